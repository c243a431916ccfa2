# Installation of the systemd integration and the Debian package (`cpack -G DEB` in a build
# directory makes digestgate_<version>_<arch>.deb). Included from the top-level CMakeLists.txt
# after every target is defined.
#
# The unit names /usr/bin/digestgated and the maintainer scripts /usr/lib/...: the package installs
# to /usr (CPACK_PACKAGING_INSTALL_PREFIX), whatever CMAKE_INSTALL_PREFIX a plain
# `cmake --install` uses.

set(DG_SYSTEMD_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR}/../systemd)
set(DG_DEBIAN_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR}/debian)

install(FILES ${DG_SYSTEMD_SOURCE_DIR}/digestgated.service DESTINATION lib/systemd/system)
install(FILES ${DG_SYSTEMD_SOURCE_DIR}/digestgate.sysusers DESTINATION lib/sysusers.d
        RENAME digestgate.conf)
install(FILES ${DG_SYSTEMD_SOURCE_DIR}/digestgate.tmpfiles DESTINATION lib/tmpfiles.d
        RENAME digestgate.conf)
# The templates postinst copies to /etc/digestgate live outside /usr/share/doc, which minimal
# systems may exclude from installation; share/doc gets the same files for reading.
set(DG_EXAMPLES ${DG_SYSTEMD_SOURCE_DIR}/config.example.json
                ${DG_SYSTEMD_SOURCE_DIR}/policy.example.json)
install(FILES ${DG_EXAMPLES} DESTINATION share/digestgate)
install(FILES ${DG_EXAMPLES} DESTINATION share/doc/digestgate/examples)
install(FILES ${DG_DEBIAN_SOURCE_DIR}/README.Debian DESTINATION share/doc/digestgate)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME digestgate)
set(CPACK_PACKAGE_VENDOR digestgate)
set(CPACK_PACKAGE_CONTACT "digestgate maintainers <digestgate@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "promotion gatekeeper for container images")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "digestgate maintainers <digestgate@example.org>")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The summary is the synopsis line; CPack indents these lines into the extended description.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "CI records what it validated about an image digest; deploy tooling asks
digestgated for approval before it deploys, and deploys only the pinned
digest it gets back; operators inspect the record, revoke digests and roll
environments back. Every event is appended to a tamper-evident ledger
(an RFC 6962 Merkle tree with signed checkpoints).

This package contains the daemon (digestgated), its systemd unit and the
client CLI (digestgate).")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS systemd)
# procps provides /bin/kill, which the unit's ExecReload runs. dpkg-shlibdeps (dpkg-dev) adds the
# shared libraries from the binaries; without it, those the binaries link on Debian 12 are named.
find_program(DG_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(DG_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "procps")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6, libstdc++6, libgcc-s1, libssl3, libsqlite3-0, procps")
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${DG_DEBIAN_SOURCE_DIR}/postinst ${DG_DEBIAN_SOURCE_DIR}/prerm ${DG_DEBIAN_SOURCE_DIR}/postrm)
# Maintainer scripts get mode 0755 whatever their mode in the source tree.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
