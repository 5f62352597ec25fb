# versions.cmake: one version for the command, the library's header and the
# changelog (CHANGELOG.md, the versioning rule at its top). The project's
# VERSION is the source; configure stops when another place disagrees, so a
# release cannot say two versions.

# include/ebm_mpi/ebm_mpi.h: EBM_MPI_VERSION_MAJOR/MINOR/PATCH.
foreach(part MAJOR MINOR PATCH)
  file(STRINGS ${CMAKE_SOURCE_DIR}/include/ebm_mpi/ebm_mpi.h _line
       REGEX "^#define EBM_MPI_VERSION_${part} ")
  string(REGEX MATCH "([0-9]+)$" _ "${_line}")
  if(NOT CMAKE_MATCH_1 STREQUAL PROJECT_VERSION_${part})
    message(FATAL_ERROR "include/ebm_mpi/ebm_mpi.h says EBM_MPI_VERSION_${part} "
      "'${CMAKE_MATCH_1}', the project is ${PROJECT_VERSION}: change both together")
  endif()
endforeach()

# CHANGELOG.md: its first version heading is this version, released
# ("## X.Y.Z (date)"), or the next one's "(unreleased)" heading followed by
# this version's.
file(STRINGS ${CMAKE_SOURCE_DIR}/CHANGELOG.md _headings REGEX "^## [0-9]+\\.[0-9]+\\.[0-9]+ ")
list(GET _headings 0 _first)
string(REGEX MATCH "^## ([0-9.]+) \\((.*)\\)" _ "${_first}")
set(_top ${CMAKE_MATCH_1})
set(_when "${CMAKE_MATCH_2}")
if(_when STREQUAL "unreleased")
  list(LENGTH _headings _n)
  if(_n LESS 2)
    set(_top "none")
  else()
    list(GET _headings 1 _second)
    string(REGEX MATCH "^## ([0-9.]+) " _ "${_second}")
    set(_top ${CMAKE_MATCH_1})
  endif()
endif()
if(NOT _top STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "CHANGELOG.md's latest released version is '${_top}', the project is "
    "${PROJECT_VERSION}: date the changelog's heading when the version changes")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/include/ebm_mpi/ebm_mpi.h ${CMAKE_SOURCE_DIR}/CHANGELOG.md)
