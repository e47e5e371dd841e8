# Installing aslnet (`cmake --install build [--prefix DIR]`) and packaging it (`cpack` in the build
# folder: a Debian package). Installs the binary, a man page made from the binary's own --help texts
# (scripts/install/make-man.py, at build time), bash completion, the README and docs/, and the
# benchmark peers `aslnet bench train --peer` runs.
include(GNUInstallDirs)

# The installed binary keeps the link paths outside the system's (the CUDA toolkit's, Open MPI's), as
# the build's does, so it finds libcudart and libmpi where they were found at link time.
set_target_properties(aslnet PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS aslnet RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
install(FILES scripts/install/aslnet-completion.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME aslnet)

find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  set(ASLNET_MAN_PAGE ${CMAKE_BINARY_DIR}/aslnet.1)
  add_custom_command(OUTPUT ${ASLNET_MAN_PAGE}
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/install/make-man.py $<TARGET_FILE:aslnet>
            ${ASLNET_MAN_PAGE}
    DEPENDS aslnet ${PROJECT_SOURCE_DIR}/scripts/install/make-man.py
    COMMENT "Writing the man page from aslnet's --help")
  add_custom_target(aslnet_man_page ALL DEPENDS ${ASLNET_MAN_PAGE})
  install(FILES ${ASLNET_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "aslnet: no Python 3, so no man page (install python3 to get one)")
endif()

# A Debian package of what `cmake --install` puts in place (scripts/check-deb-clean.sh installs the
# CPU-only build's package into a fresh Debian 12 and runs `aslnet demo` from it).
#   CPU-only build (ASLNET_CUDA=OFF): every library the binary links comes from Debian, so the Depends
#     are computed from the binary by dpkg-shlibdeps (CPACK_DEBIAN_PACKAGE_SHLIBDEPS: names and minimum
#     versions, libc6 and libopenmpi3 included) where it and `file` are installed (dpkg-dev, file), else
#     they are the list below. OpenBLAS is loaded at run time (dlopen), so no linker or dpkg-shlibdeps
#     sees it: it is always named here, with the reference BLAS (libblas3) as the alternative.
#   CUDA build: CUDA, cuDNN, cuBLAS and NCCL come from NVIDIA's packages or the toolkit, which Debian does
#     not ship, so they are not named (dpkg-shlibdeps would find no package for them); the package installs
#     on a machine that has NVIDIA's libraries where the build found them (the binary keeps their paths).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME aslnet)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
if(ASLNET_CUDA)
  set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "ResNet training engine on CUDA, cuDNN and OpenBLAS for the ASL alphabet")
else()
  set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "ResNet training engine on OpenBLAS for the ASL alphabet (CPU only)")
endif()
set(CPACK_PACKAGE_CONTACT "aslnet developers")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(ASLNET_DEB_BLAS "libopenblas0 | libblas3")
find_program(ASLNET_DPKG_SHLIBDEPS dpkg-shlibdeps)
find_program(ASLNET_FILE_PROGRAM file)
mark_as_advanced(ASLNET_DPKG_SHLIBDEPS ASLNET_FILE_PROGRAM)
if(NOT ASLNET_CUDA AND ASLNET_DPKG_SHLIBDEPS AND ASLNET_FILE_PROGRAM)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${ASLNET_DEB_BLAS}")
else()
  # (Debian 12's names.)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "libturbojpeg0, libpng16-16, zlib1g, ${ASLNET_DEB_BLAS}, libespeak-ng1, libcpp-httplib0.11, libprotobuf-lite32, libfmt9, libstdc++6")
  if(MPI_CXX_FOUND)
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libopenmpi3")
  endif()
  if(ASLNET_ONEDNN)  # the fast CPU kernels (oneDNN, on OpenMP)
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libdnnl2, libgomp1")
  endif()
  if(NOT ASLNET_CUDA)
    message(STATUS "aslnet: no dpkg-shlibdeps or file, so the package's Depends are the list in cmake/install.cmake")
  endif()
endif()
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
