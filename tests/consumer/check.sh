#!/usr/bin/env bash
# Uses aio from outside its source tree, every way the README offers, and runs the result:
#   tests/consumer/check.sh [work dir]
# 1. install into a staging prefix (tests and examples off, as the vcpkg port and the Conan
#    recipe do), move the prefix, and find_package(aio) from its new place (relocatable);
# 2. a copied example built with the five-line CMakeLists.txt from examples/README.md;
# 3. add_subdirectory; 4. FetchContent from a local git repository (it fetches the committed HEAD);
# 5. vcpkg: `vcpkg install aio` with the overlay port, then the consumer through vcpkg's toolchain;
# 6. Conan: `conan create .` with the recipe and test_package, then the consumer through
#    `conan install`, CMakeDeps and Conan's toolchain.
# The consumer of 1, 3, 4, 5 and 6 also uses aio_precompile_headers() (docs/build-time.md).
#
# 5 and 6 run the real tools, offline, from their sources kept beside CI's clone
# (../shared/third_party/packaging, or AIO_PACKAGING_TOOLS; see "vcpkg and Conan" below). Without
# them, only the files' syntax is checked, unless CI=true: then their absence fails.
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
consumer="$source_dir/tests/consumer"
work="$(realpath -m "${1:-$source_dir/build/consumer}")"
rm -rf "$work"
mkdir -p "$work"

version=$(sed -n 's/^project(aio VERSION \([0-9.]*\) .*/\1/p' "$source_dir/CMakeLists.txt")

step() {
    echo
    echo "--- consumer: $* ---"
}

build_and_run() { # <build dir> <executable> <cmake configure arguments...>
    local build="$1" exe="$2"
    shift 2
    cmake -S "$consumer" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@"
    cmake --build "$build"
    # The consumer calls aio_precompile_headers: its header was precompiled (.gch or .pch).
    if ! compgen -G "$build/CMakeFiles/$exe.dir/cmake_pch.hxx.?ch" >/dev/null; then
        echo "consumer: no precompiled header in $build for $exe" >&2
        exit 1
    fi
    "$build/$exe"
}

step "install into a staging prefix, then move it"
cmake -S "$source_dir" -B "$work/aio-build" -DCMAKE_BUILD_TYPE=Release \
    -DAIO_BUILD_TESTS=OFF -DAIO_BUILD_EXAMPLES=OFF -DAIO_INSTALL=ON
cmake --install "$work/aio-build" --prefix "$work/staging"
mv "$work/staging" "$work/moved"
if grep -rl "$work/staging" "$work/moved"; then
    echo "consumer: the installed files above name the staging prefix: not relocatable" >&2
    exit 1
fi

step "find_package from the moved prefix"
build_and_run "$work/find_package" consumer -DAIO_CONSUME=find_package \
    "-DCMAKE_PREFIX_PATH=$work/moved"

step "a copied example with the CMakeLists.txt from examples/README.md"
mkdir -p "$work/copied-example"
cp "$source_dir/examples/quickstart.cpp" "$work/copied-example/example.cpp"
awk '
    /<!-- copied-example:begin -->/ { inside = 1; next }
    /<!-- copied-example:end -->/   { inside = 0; next }
    inside && /^```/                { fence = !fence; next }
    inside && fence                 { print }
' "$source_dir/examples/README.md" >"$work/copied-example/CMakeLists.txt"
lines=$(grep -c . "$work/copied-example/CMakeLists.txt")
if [[ $lines -ne 5 ]]; then
    echo "consumer: examples/README.md's CMakeLists.txt has $lines lines, not 5" >&2
    exit 1
fi
cmake -S "$work/copied-example" -B "$work/copied-example/build" -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_PREFIX_PATH=$work/moved"
cmake --build "$work/copied-example/build"
"$work/copied-example/build/example"

step "add_subdirectory"
build_and_run "$work/add_subdirectory" consumer -DAIO_CONSUME=add_subdirectory \
    "-DAIO_SOURCE_DIR=$source_dir"

step "FetchContent from a local git repository"
build_and_run "$work/fetchcontent" consumer -DAIO_CONSUME=fetchcontent \
    "-DAIO_SOURCE_DIR=$source_dir"

step "vcpkg's and Conan's files are well formed"
python3 - "$source_dir"/vcpkg.json "$source_dir"/ports/aio/vcpkg.json \
    "$consumer"/vcpkg-ports/*/vcpkg.json "$source_dir/conanfile.py" \
    "$source_dir/test_package/conanfile.py" "$consumer/conan-boost/conanfile.py" <<'END'
import ast, json, sys
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as file:
        text = file.read()
    try:
        if path.endswith(".json"):
            json.loads(text)
        else:
            ast.parse(text, path)
    except (ValueError, SyntaxError) as error:
        sys.exit(f"consumer: {path}: {error}")
END

# vcpkg and Conan themselves: neither is in Debian and neither registry is reachable from CI's
# machine, so CI keeps their sources beside its clone, and the registries' Boost and OpenSSL
# packages are stood in for by ones that use the system's (vcpkg-ports/ and conan-boost/ say what
# each replaces). The port and the recipe are the ones users run against the real registries.
tools=$(realpath -m "${AIO_PACKAGING_TOOLS:-$source_dir/../shared/third_party/packaging}")

# The consumer's aio_DIR, in its CMake cache, is under the prefix: the tool's package was used.
check_found_under() { # <consumer build dir> <prefix>
    local found
    found=$(sed -n 's/^aio_DIR:[A-Z]*=//p' "$1/CMakeCache.txt")
    if [[ $found != "$2" && $found != "$2"/* ]]; then
        echo "consumer: aio was found in '${found}', not under $2" >&2
        exit 1
    fi
}

# The vcpkg executable kept with the tools was built on Debian 12 (it links the system's libcurl);
# on a machine where it does not run, it is built from its source (about 9 minutes on 2 cores).
build_vcpkg() { # <path of the executable to write>
    local build="$work/vcpkg/tool-build"
    cmake -S "$tools/vcpkg-tool" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_TESTING=OFF -DVCPKG_DEVELOPMENT_WARNINGS=OFF -DVCPKG_LIBCURL_DLSYM=OFF \
        "-DFETCHCONTENT_SOURCE_DIR_FMT=$tools/fmt" "-DFETCHCONTENT_SOURCE_DIR_CMAKERC=$tools/cmrc" \
        -DFETCHCONTENT_FULLY_DISCONNECTED=ON
    cmake --build "$build" --parallel 2
    cp "$build/vcpkg" "$1"
}

vcpkg_root="$work/vcpkg/root"
# System tools (cmake, ninja, patchelf) instead of downloaded ones; no binary cache (it would be
# written in the home folder, and would let a second run skip the port's build) and no metrics
# (they write a user id in the home folder). Each command is given --classic: vcpkg would
# otherwise take the clone's vcpkg.json, found in a folder above, for a consumer's manifest.
vcpkg() {
    env -u VCPKG_ROOT VCPKG_FORCE_SYSTEM_BINARIES=1 VCPKG_BINARY_SOURCES=clear \
        VCPKG_DISABLE_METRICS=1 "$vcpkg_root/vcpkg" "$@"
}

vcpkg_steps() {
    local start=$SECONDS
    step "vcpkg: install aio with the overlay port (stand-ins for the Boost and OpenSSL ports)"
    # vcpkg writes its packages and build trees beside itself: a copy of the root.
    mkdir -p "$work/vcpkg"
    cp -r "$tools/vcpkg-root" "$vcpkg_root"
    chmod -R u+w "$vcpkg_root"
    if ! vcpkg version >/dev/null 2>&1; then
        echo "consumer: the prebuilt vcpkg does not run here: building it from its source"
        build_vcpkg "$vcpkg_root/vcpkg"
    fi
    local overlays=("--overlay-ports=$source_dir/ports" "--overlay-ports=$consumer/vcpkg-ports")
    vcpkg install --classic aio "${overlays[@]}"
    local targets # under installed/<the default triplet, e.g. x64-linux>/
    targets=$(find "$vcpkg_root/installed" -path '*/share/aio/aio-targets.cmake')
    # The system's OpenSSL is there, but without the tls feature the port must not use it.
    if grep -q 'aio::tls' "$targets"; then
        echo "consumer: vcpkg's aio without the tls feature provides aio::tls" >&2
        exit 1
    fi

    step "vcpkg: the consumer, configured with vcpkg's toolchain file"
    build_and_run "$work/vcpkg-consumer" consumer -DAIO_CONSUME=find_package \
        "-DCMAKE_TOOLCHAIN_FILE=$vcpkg_root/scripts/buildsystems/vcpkg.cmake"
    check_found_under "$work/vcpkg-consumer" "$vcpkg_root/installed"

    step "vcpkg: aio's features beast and tls"
    vcpkg install --classic 'aio[beast,tls]' --recurse "${overlays[@]}"
    vcpkg list --classic | tee "$work/vcpkg/list.txt"
    for installed in 'aio\[beast\]' 'aio\[tls\]' boost-beast openssl; do
        grep -q "^$installed:" "$work/vcpkg/list.txt" ||
            { echo "consumer: vcpkg did not install $installed" >&2; exit 1; }
    done
    grep -q 'aio::tls' "$targets" ||
        { echo "consumer: vcpkg's aio[tls] does not provide aio::tls" >&2; exit 1; }
    # Configuring (without building) the consumer again proves the config finds OpenSSL.
    cmake -S "$consumer" -B "$work/vcpkg-consumer-tls" -DAIO_CONSUME=find_package \
        "-DCMAKE_TOOLCHAIN_FILE=$vcpkg_root/scripts/buildsystems/vcpkg.cmake"

    # VCPKG_FORCE_SYSTEM_BINARIES and the stand-ins leave vcpkg nothing to download.
    if [[ -n $(find "$vcpkg_root/downloads" -type f 2>/dev/null) ]]; then
        echo "consumer: vcpkg downloaded files into $vcpkg_root/downloads" >&2
        exit 1
    fi
    echo "consumer: vcpkg steps in $((SECONDS - start)) s"
}

# Conan runs on Debian's Python packages; a Python installed apart from the system's (pyenv, a
# virtual environment) does not see them, so the first python3 that does is used.
conan_python=""
conan() {
    CONAN_HOME="$work/conan/home" PYTHONPATH="$tools/conan" "$conan_python" \
        -c 'import sys; from conans.conan import run; sys.argv[0] = "conan"; run()' "$@"
}

conan_steps() {
    local start=$SECONDS candidate
    step "Conan: conan create . with test_package (boost: a stand-in for conancenter's)"
    local modules="colorama, dateutil, distro, fasteners, jinja2, patch_ng, requests, urllib3, yaml"
    for candidate in python3 /usr/bin/python3; do
        if "$candidate" -c "import $modules" 2>/dev/null; then
            conan_python=$candidate
            break
        fi
    done
    if [[ -z $conan_python ]]; then
        echo "consumer: no python3 has Conan's modules (Debian: python3-requests python3-urllib3" \
            "python3-colorama python3-yaml python3-patch-ng python3-fasteners python3-distro" \
            "python3-jinja2 python3-dateutil)" >&2
        exit 1
    fi
    conan profile detect
    conan remote disable conancenter
    conan export "$consumer/conan-boost"
    # conan create builds test_package inside the folder it is given: a copy keeps the clone clean.
    cp -r "$source_dir/test_package" "$work/conan/test_package"
    conan create "$source_dir" --build=missing -s compiler.cppstd=20 \
        --test-folder "$work/conan/test_package"

    step "Conan: the consumer, through conan install, CMakeDeps and Conan's toolchain"
    # Run from the output folder: CMakeToolchain writes a CMakeUserPresets.json into the current
    # folder when it holds a CMakeLists.txt (as the clone does).
    local deps="$work/conan/consumer-deps"
    mkdir -p "$deps"
    (cd "$deps" && conan install --requires "aio/$version" -g CMakeDeps -g CMakeToolchain \
        -s compiler.cppstd=20 --output-folder .)
    build_and_run "$work/conan-consumer" consumer -DAIO_CONSUME=find_package \
        "-DCMAKE_TOOLCHAIN_FILE=$deps/conan_toolchain.cmake"
    check_found_under "$work/conan-consumer" "$deps"
    echo "consumer: Conan steps in $((SECONDS - start)) s"
}

skipped=""
if [[ -d $tools ]]; then
    vcpkg_steps
    conan_steps
elif [[ ${CI:-} == true ]]; then
    echo "consumer: CI=true but $tools is missing: vcpkg and Conan cannot run" >&2
    exit 1
else
    step "vcpkg and Conan: skipped"
    echo "consumer: skipped vcpkg and Conan: their sources are not in $tools (only CI's" \
        "machine has them; AIO_PACKAGING_TOOLS names another folder)"
    skipped="; vcpkg and Conan skipped"
fi

step "one version everywhere"
for file in vcpkg.json ports/aio/vcpkg.json; do
    found=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' \
        "$source_dir/$file")
    [[ $found == "$version" ]] || { echo "consumer: $file says $found, CMake says $version" >&2; exit 1; }
done
grep -q "^    version = \"$version\"$" "$source_dir/conanfile.py" ||
    { echo "consumer: conanfile.py's version is not $version" >&2; exit 1; }

echo
echo "consumer: all ways in work (aio $version$skipped)"
