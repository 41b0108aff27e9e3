#!/usr/bin/env bash
# Uses aio from outside its source tree, every way the README offers, and runs the result:
#   tests/consumer/check.sh [work dir]
# 1. install into a staging prefix (tests and examples off, as the vcpkg port and the Conan
#    recipe do), move the prefix, and find_package(aio) from its new place (relocatable);
# 2. a copied example built with the five-line CMakeLists.txt from examples/README.md;
# 3. add_subdirectory; 4. FetchContent from a local git repository (it fetches the committed HEAD);
# 5. the vcpkg port's steps (vcpkg_port.cmake); 6. the Conan recipe's steps (conan_recipe.py).
# The consumer of 1, 3, 4 and 5 also uses aio_precompile_headers() (docs/build-time.md).
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
consumer="$source_dir/tests/consumer"
work="$(realpath -m "${1:-$source_dir/build/consumer}")"
rm -rf "$work"
mkdir -p "$work"

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

step "the vcpkg port's steps"
python3 -m json.tool "$source_dir/vcpkg.json" >/dev/null
python3 -m json.tool "$source_dir/ports/aio/vcpkg.json" >/dev/null
cmake "-DPACKAGES_DIR=$work/vcpkg-packages" "-DBUILD_DIR=$work/vcpkg-build" \
    -P "$consumer/vcpkg_port.cmake"
build_and_run "$work/vcpkg-consumer" consumer -DAIO_CONSUME=find_package \
    "-DCMAKE_PREFIX_PATH=$work/vcpkg-packages"

step "the Conan recipe's steps"
python3 "$consumer/conan_recipe.py" "$source_dir" "$work/conan"

step "one version everywhere"
version=$(sed -n 's/^project(aio VERSION \([0-9.]*\) .*/\1/p' "$source_dir/CMakeLists.txt")
for file in vcpkg.json ports/aio/vcpkg.json; do
    found=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' \
        "$source_dir/$file")
    [[ $found == "$version" ]] || { echo "consumer: $file says $found, CMake says $version" >&2; exit 1; }
done
grep -q "^    version = \"$version\"$" "$source_dir/conanfile.py" ||
    { echo "consumer: conanfile.py's version is not $version" >&2; exit 1; }

echo
echo "consumer: all ways in work (aio $version)"
