# An overlay port that builds the aio checkout it lives in:
#   vcpkg install aio --overlay-ports=<aio checkout>/ports
# A registry port would fetch a release instead (vcpkg_from_github with REPO, REF and SHA512);
# every step after that is the same.
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

# Header-only: one configuration is enough, and nothing in it depends on the build type.
set(VCPKG_BUILD_TYPE release)

# aio::tls only with the tls feature, which brings OpenSSL: not whenever the build happens to
# find an OpenSSL (aio's own default), which the installed config would then require.
vcpkg_check_features(OUT_FEATURE_OPTIONS feature_options
    FEATURES
        tls AIO_WITH_OPENSSL
)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        ${feature_options}
        -DAIO_BUILD_TESTS=OFF
        -DAIO_BUILD_EXAMPLES=OFF
        -DAIO_INSTALL=ON
        -DAIO_INSTALL_CMAKEDIR=share/aio
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME aio CONFIG_PATH share/aio)

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/lib" "${CURRENT_PACKAGES_DIR}/share/doc")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
