# A stand-in for the vcpkg registry's boost-beast port, for installing aio's port offline: CI
# cannot reach the registry, and the real port (with the Boost ports it depends on) downloads
# Boost's sources. This one installs nothing: the headers, and the Boost CMake package that
# aio's config finds, come from the system's Boost (Debian's libboost-dev), where CMake's default
# search finds them. The registry's Boost ports themselves are not checked by this.
set(VCPKG_POLICY_EMPTY_PACKAGE enabled)

if(NOT EXISTS "/usr/include/boost/beast.hpp")
    message(FATAL_ERROR "boost-beast stand-in: no /usr/include/boost/beast.hpp (install libboost-dev)")
endif()
