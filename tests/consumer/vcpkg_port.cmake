# Runs ports/aio/portfile.cmake the way vcpkg would, with plain CMake, for machines without vcpkg:
#   cmake -DPACKAGES_DIR=<empty dir> -DBUILD_DIR=<dir> -P vcpkg_port.cmake
# Each vcpkg helper the portfile calls is stood in for by the CMake steps vcpkg performs (configure,
# install, move the config into share/<port>, install the copyright). A call to a helper not
# defined here fails, so the portfile cannot use more than what is checked.
cmake_minimum_required(VERSION 3.25)

foreach(var PACKAGES_DIR BUILD_DIR)
    if(NOT ${var})
        message(FATAL_ERROR "vcpkg_port.cmake: pass -D${var}=<path>")
    endif()
endforeach()

set(PORT aio)
set(CURRENT_PACKAGES_DIR "${PACKAGES_DIR}")

function(run_step)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
    if(NOT result EQUAL 0)
        message(FATAL_ERROR "vcpkg_port.cmake: step failed (${result}): ${ARGN}")
    endif()
endfunction()

function(vcpkg_cmake_configure)
    cmake_parse_arguments(PARSE_ARGV 0 arg "" "SOURCE_PATH" "OPTIONS")
    if(NOT VCPKG_BUILD_TYPE STREQUAL "release")
        message(FATAL_ERROR "vcpkg_port.cmake: a header-only port builds the release configuration only")
    endif()
    run_step(${CMAKE_COMMAND} -S "${arg_SOURCE_PATH}" -B "${BUILD_DIR}"
        -DCMAKE_BUILD_TYPE=Release "-DCMAKE_INSTALL_PREFIX=${CURRENT_PACKAGES_DIR}" ${arg_OPTIONS})
endfunction()

function(vcpkg_cmake_install)
    run_step(${CMAKE_COMMAND} --install "${BUILD_DIR}")
endfunction()

function(vcpkg_cmake_config_fixup)
    cmake_parse_arguments(PARSE_ARGV 0 arg "" "PACKAGE_NAME;CONFIG_PATH" "")
    set(target "${CURRENT_PACKAGES_DIR}/share/${arg_PACKAGE_NAME}")
    set(source "${CURRENT_PACKAGES_DIR}/${arg_CONFIG_PATH}")
    if(NOT EXISTS "${source}/${arg_PACKAGE_NAME}-config.cmake")
        message(FATAL_ERROR "vcpkg_port.cmake: no ${arg_PACKAGE_NAME}-config.cmake in ${source}")
    endif()
    if(NOT source STREQUAL target)
        file(COPY "${source}/" DESTINATION "${target}")
        file(REMOVE_RECURSE "${source}")
    endif()
endfunction()

function(vcpkg_install_copyright)
    cmake_parse_arguments(PARSE_ARGV 0 arg "" "" "FILE_LIST")
    file(READ "${arg_FILE_LIST}" text)
    file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright" "${text}")
endfunction()

get_filename_component(port_dir "${CMAKE_CURRENT_LIST_DIR}/../../ports/aio" ABSOLUTE)
include("${port_dir}/portfile.cmake")

foreach(installed share/aio/aio-config.cmake share/aio/aio-config-version.cmake
        share/aio/AioPrecompile.cmake share/aio/usage
        share/aio/copyright include/aio/aio.hpp)
    if(NOT EXISTS "${CURRENT_PACKAGES_DIR}/${installed}")
        message(FATAL_ERROR "vcpkg_port.cmake: the port did not install ${installed}")
    endif()
endforeach()
message(STATUS "vcpkg_port.cmake: port installed into ${CURRENT_PACKAGES_DIR}")
