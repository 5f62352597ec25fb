# python.cmake: the Python package python/ebm_mpi (pure ctypes over
# libebm_mpi, docs/api.md), installed under the prefix with the path to the
# installed library recorded beside it.

# The package's version is the library's: ebm_mpi.library() checks it
# against the library it loads, so it must be the project's.
file(STRINGS ${CMAKE_SOURCE_DIR}/python/ebm_mpi/__init__.py ebm_py_version_line
     REGEX "^__version__ = ")
string(REGEX MATCH "\"([0-9.]+)\"" _ "${ebm_py_version_line}")
if(NOT CMAKE_MATCH_1 STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "python/ebm_mpi/__init__.py says __version__ '${CMAKE_MATCH_1}', "
    "the project is ${PROJECT_VERSION}: change both together")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/python/ebm_mpi/__init__.py)

# Where the package goes, relative to the prefix (or absolute). The default
# is version-independent, Debian's folder for packages of every python3:
# /usr's is on its sys.path; for another prefix, put
# <prefix>/lib/python3/dist-packages on PYTHONPATH.
set(EBM_INSTALL_PYTHONDIR "lib/python3/dist-packages" CACHE STRING
  "Where cmake --install puts the ebm_mpi Python package (relative to the prefix, or absolute)")
install(DIRECTORY python/ebm_mpi DESTINATION ${EBM_INSTALL_PYTHONDIR}
  FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
# _installed.py, written at install time for the prefix installed to: the
# library (its SONAME, the file the ABI promise is about) and the shipped
# data, relative to the package, so a moved prefix (or DESTDIR) still holds.
get_target_property(ebm_soversion ebm_mpi_shared SOVERSION)
install(CODE "
set(pkg \"${EBM_INSTALL_PYTHONDIR}/ebm_mpi\")
set(lib \"${CMAKE_INSTALL_LIBDIR}\")
set(data \"${CMAKE_INSTALL_DATADIR}/ebm_mpi\")
foreach(v pkg lib data)
  if(NOT IS_ABSOLUTE \"\${\${v}}\")
    set(\${v} \"\${CMAKE_INSTALL_PREFIX}/\${\${v}}\")
  endif()
endforeach()
file(RELATIVE_PATH lib_rel \"\${pkg}\" \"\${lib}/libebm_mpi.so.${ebm_soversion}\")
file(RELATIVE_PATH data_rel \"\${pkg}\" \"\${data}/digits.h5\")
set(out \"\$ENV{DESTDIR}\${pkg}/_installed.py\")
message(STATUS \"Installing: \${out}\")
file(WRITE \"\${out}\" \"# Written by cmake --install: the files installed with this package,
# relative to its folder (ebm_mpi/_library.py reads them).
LIBRARY = \\\"\${lib_rel}\\\"
DATA = \\\"\${data_rel}\\\"
\")")
