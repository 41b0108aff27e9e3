"""Runs conanfile.py the way `conan create` would, with plain CMake, for machines without Conan.

    python3 conan_recipe.py <aio source dir> <work dir>

Stand-ins for the parts of the Conan 2 API the recipe imports are installed as a `conan` package
before the recipe is loaded, so the recipe's own generate/build/package/package_info methods run:
its CMake cache variables configure aio, its package step installs into a package folder, and
its package_info is checked. The test package is then built against that folder. An API the
recipe uses that is not stood in for makes the import fail, so nothing goes unchecked silently.
"""
import importlib.util
import os
import subprocess
import sys
import types


def run(*command):
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True)


class Settings:
    os = "Linux"
    arch = "x86_64"
    compiler = "gcc"
    build_type = "Release"


class CppInfo:
    def __init__(self):
        self.properties = {}
        self.bindirs = ["bin"]
        self.libdirs = ["lib"]
        self.requires = []
        self.system_libs = []

    def set_property(self, name, value):
        self.properties[name] = value


class ConanFile:
    def __init__(self, source_folder, build_folder, package_folder):
        self.source_folder = source_folder
        self.build_folder = build_folder
        self.package_folder = package_folder
        self.settings = Settings()
        self.cpp_info = CppInfo()
        self.info = types.SimpleNamespace(clear=lambda: None)
        self.required = []
        self.cache_variables = {}

    def requires(self, reference, **traits):
        self.required.append(reference)


class CMakeToolchain:
    def __init__(self, conanfile):
        self.conanfile = conanfile
        self.cache_variables = {}

    def generate(self):
        self.conanfile.cache_variables.update(self.cache_variables)


class CMakeDeps:
    def __init__(self, conanfile):
        pass

    def generate(self):
        pass  # Boost comes from the system here, found by aio's own find_package.


class CMake:
    def __init__(self, conanfile):
        self.conanfile = conanfile

    def configure(self):
        c = self.conanfile
        options = [f"-D{k}={'ON' if v is True else 'OFF' if v is False else v}"
                   for k, v in c.cache_variables.items()]
        run("cmake", "-S", c.source_folder, "-B", c.build_folder,
            "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_INSTALL_PREFIX={c.package_folder}", *options)

    def build(self):
        run("cmake", "--build", self.conanfile.build_folder)

    def install(self):
        run("cmake", "--install", self.conanfile.build_folder)


def install_stand_ins():
    modules = {
        "conan": types.ModuleType("conan"),
        "conan.tools": types.ModuleType("conan.tools"),
        "conan.tools.cmake": types.ModuleType("conan.tools.cmake"),
        "conan.tools.build": types.ModuleType("conan.tools.build"),
    }
    modules["conan"].ConanFile = ConanFile
    cmake = modules["conan.tools.cmake"]
    cmake.CMake, cmake.CMakeDeps, cmake.CMakeToolchain = CMake, CMakeDeps, CMakeToolchain
    cmake.cmake_layout = lambda conanfile: None
    modules["conan.tools.build"].can_run = lambda conanfile: True
    sys.modules.update(modules)


def load_recipe(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(os.path.dirname(path)), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    recipes = [v for v in vars(module).values()
               if isinstance(v, type) and issubclass(v, ConanFile) and v is not ConanFile]
    if len(recipes) != 1:
        sys.exit(f"conan_recipe.py: expected one ConanFile class in {path}")
    return recipes[0]


def check(condition, message):
    if not condition:
        sys.exit(f"conan_recipe.py: {message}")


def main():
    source, work = (os.path.abspath(p) for p in sys.argv[1:3])
    install_stand_ins()
    recipe_class = load_recipe(os.path.join(source, "conanfile.py"))
    load_recipe(os.path.join(source, "test_package", "conanfile.py"))

    package = os.path.join(work, "package")
    recipe = recipe_class(source, os.path.join(work, "build"), package)
    check(recipe.package_type == "header-library", "the recipe must be a header-library")
    recipe.requirements()
    check(any(r.startswith("boost/[>=1.81") for r in recipe.required),
          f"the recipe must require boost >= 1.81, requires {recipe.required}")
    recipe.generate()
    recipe.build()
    recipe.package()
    recipe.package_id()
    recipe.package_info()
    info = recipe.cpp_info
    check(info.properties.get("cmake_file_name") == "aio", "cmake_file_name must be aio")
    check(info.properties.get("cmake_target_name") == "aio::aio", "cmake_target_name must be aio::aio")
    check(info.libdirs == [] and info.bindirs == [], "a header-only package has no lib or bin dirs")
    check(os.path.isfile(os.path.join(package, "include", "aio", "aio.hpp")), "headers not packaged")
    modules = info.properties.get("cmake_build_modules", [])
    check(len(modules) == 1 and os.path.isfile(os.path.join(package, modules[0])),
          f"cmake_build_modules must name the packaged AioPrecompile.cmake, names {modules}")

    test_build = os.path.join(work, "test_package")
    run("cmake", "-S", os.path.join(source, "test_package"), "-B", test_build,
        "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={package}")
    run("cmake", "--build", test_build)
    run(os.path.join(test_build, "test_package"))
    print(f"conan_recipe.py: {recipe.name}/{recipe.version} packaged and tested")


if __name__ == "__main__":
    main()
