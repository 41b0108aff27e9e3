# A stand-in for the vcpkg registry's openssl port, for installing aio's port with its tls feature
# offline: CI cannot reach the registry, and the real port downloads and builds OpenSSL. This one
# installs nothing: CMake's FindOpenSSL, which aio's config calls, finds the system's OpenSSL
# (Debian's libssl-dev). The registry's openssl port itself is not checked by this.
set(VCPKG_POLICY_EMPTY_PACKAGE enabled)

if(NOT EXISTS "/usr/include/openssl/ssl.h")
    message(FATAL_ERROR "openssl stand-in: no /usr/include/openssl/ssl.h (install libssl-dev)")
endif()
