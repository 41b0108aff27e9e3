# Conan 2 recipe for aio, a header-only library: `conan create .` builds the package and runs
# test_package/ against it.
from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout


class AioConan(ConanFile):
    name = "aio"
    version = "0.1.0"
    description = "Python asyncio's programming model for C++20 coroutines on Boost.Asio"
    license = "BSL-1.0"
    topics = ("asio", "asyncio", "coroutines", "async", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    exports_sources = "CMakeLists.txt", "LICENSE", "cmake/*", "include/*"
    no_copy_source = True
    # Header-only use of Boost: Asio (and Beast for HTTP), no compiled Boost library.
    default_options = {"boost/*:header_only": True}

    def requirements(self):
        self.requires("boost/[>=1.81.0]")

    def validate(self):
        # aio's headers need C++20 (coroutines, concepts), in the consumer's profile too:
        # CMakeDeps' aio::aio does not carry the compile feature that aio's own config does.
        if self.settings.compiler.get_safe("cppstd"):
            check_min_cppstd(self, 20)

    def layout(self):
        cmake_layout(self)

    def generate(self):
        toolchain = CMakeToolchain(self)
        toolchain.cache_variables["AIO_BUILD_TESTS"] = False
        toolchain.cache_variables["AIO_BUILD_EXAMPLES"] = False
        toolchain.cache_variables["AIO_INSTALL"] = True
        # The package offers aio::aio only (package_info); whether the build machine has OpenSSL
        # must not change what it installs.
        toolchain.cache_variables["AIO_WITH_OPENSSL"] = False
        toolchain.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()

    def package(self):
        CMake(self).install()

    def package_id(self):
        self.info.clear()

    # Where CMake's install puts the module (AIO_INSTALL_CMAKEDIR), relative to the package.
    _precompile_module = "share/cmake/aio/AioPrecompile.cmake"

    def package_info(self):
        # Consumers get aio::aio from Conan's CMakeDeps, not from aio's installed config.
        self.cpp_info.set_property("cmake_file_name", "aio")
        self.cpp_info.set_property("cmake_target_name", "aio::aio")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.requires = ["boost::headers"]
        # CMakeDeps writes its own aio-config.cmake; this makes it define aio_precompile_headers()
        # as aio's installed config does.
        self.cpp_info.set_property("cmake_build_modules", [self._precompile_module])
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread"]
