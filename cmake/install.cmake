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

# A Debian package of what `cmake --install` puts in place. The libraries from Debian are named as
# dependencies; CUDA, cuDNN, cuBLAS and NCCL come from NVIDIA's packages or the toolkit, which Debian
# does not ship, so they are not (a machine without them runs the CPU paths of a CPU-only build).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME aslnet)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "ResNet training engine on CUDA, cuDNN and OpenBLAS for the ASL alphabet")
set(CPACK_PACKAGE_CONTACT "aslnet developers")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
# (Debian 12's names; OpenBLAS is loaded at run time, so no linker would name it.)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libturbojpeg0, libpng16-16, zlib1g, libopenblas0 | libblas3, libespeak-ng1, libcpp-httplib0.11, libprotobuf-lite32, libfmt9, libstdc++6")
if(MPI_CXX_FOUND)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libopenmpi3")
endif()
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
