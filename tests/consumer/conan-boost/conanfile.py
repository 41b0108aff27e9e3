# A stand-in for conancenter's `boost` recipe, for checking aio's recipe offline: CI cannot reach
# conancenter, and building Boost from its sources would take longer than all the rest of CI.
# It packages nothing: its one component points at the system's Boost headers (Debian's
# libboost-dev), and it takes the version of those headers.
#
# It offers what the real recipe offers a header-only consumer such as aio: the `header_only`
# option (off by default, as in the real recipe, so aio's recipe must ask for it) and the
# `headers` component with the CMake target Boost::headers, in the file set of
# find_package(Boost). Like the real recipe with header_only, its package type is deduced from
# that option (header-library) and its package id ignores settings and options.
import os
import re

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration


class BoostStandIn(ConanFile):
    name = "boost"
    description = "Stand-in for conancenter's boost: the system's Boost headers, header-only"
    license = "BSL-1.0"
    options = {"header_only": [True, False]}
    default_options = {"header_only": False}

    _system_include_dir = "/usr/include"

    def set_version(self):
        # BOOST_LIB_VERSION is "1_81" (a patch release is "1_81_1"); a Conan version has three parts.
        path = os.path.join(self._system_include_dir, "boost", "version.hpp")
        with open(path, encoding="utf-8") as header:
            found = re.search(r'#define BOOST_LIB_VERSION "(\d+)_(\d+)(?:_(\d+))?"', header.read())
        if not found:
            raise ConanInvalidConfiguration(f"no BOOST_LIB_VERSION in {path}")
        major, minor, patch = found.groups()
        self.version = f"{major}.{minor}.{patch or 0}"

    def validate(self):
        if not self.options.header_only:
            raise ConanInvalidConfiguration(
                "this stand-in for conancenter's boost provides the headers only: "
                "require it with boost/*:header_only=True")

    def package_id(self):
        self.info.clear()

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "Boost")
        headers = self.cpp_info.components["headers"]
        headers.set_property("cmake_target_name", "Boost::headers")
        headers.includedirs = [self._system_include_dir]
        headers.libdirs = []
        headers.bindirs = []
