# deps.cmake: the three libraries ebm_mpi needs, found the CMake way, one
# section each (docs/install.md shows how to point at them):
#
#   MPI    FindMPI                         -> MPI::MPI_C, <build>/launcher.env
#   HDF5   FindHDF5 (parallel preferred; HDF5's own hdf5-config.cmake when a
#          site has one), else pkg-config's hdf5-mpich / hdf5-openmpi / hdf5
#                                          -> EBM::HDF5
#   BLAS   FindBLAS (BLA_VENDOR, OpenBLAS by default) and the cblas.h that
#          sits beside the library found   -> EBM::BLAS, EBM_BLAS_KIND
#
# Each found library is then checked with a small program built and run at
# configure time (cmake/checks/): HDF5 must be the parallel build and must
# bring the same MPI library as the one FindMPI found (asked of the libraries
# themselves with MPI_Get_library_version, not guessed from paths: mixing two
# MPIs crashes at run time), and the BLAS must compute through the cblas.h
# found and tells which library it is (OpenBLAS, BLIS, or unknown), which
# selects src/num/blas.c's adapter. Everything missing or refused is
# collected and reported in one message at the end.

set(EBM_DEPS_PROBLEMS)
set(EBM_CHECKS_DIR ${CMAKE_CURRENT_LIST_DIR}/checks)
set(EBM_CHECKS_BIN ${CMAKE_BINARY_DIR}${CMAKE_FILES_DIRECTORY}/ebm_checks)
find_package(PkgConfig QUIET)

# ebm_check_run(NAME SOURCE OUT_PREFIX LINK_LIBRARIES... [INCLUDES dir...]):
# build and run cmake/checks/SOURCE; its KEY=value lines become
# OUT_PREFIX_KEY in the caller, OUT_PREFIX_STATUS is RAN, COMPILE_FAILED or
# RUN_FAILED, and OUT_PREFIX_LOG names the file holding the compiler's or the
# program's output.
function(ebm_check_run name source out)
  cmake_parse_arguments(PARSE_ARGV 3 arg "" "" "LINK_LIBRARIES;INCLUDES")
  set(bindir ${EBM_CHECKS_BIN}/${name})
  file(REMOVE_RECURSE ${bindir})
  set(flags)
  if(arg_INCLUDES)
    set(flags CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${arg_INCLUDES}")
  endif()
  try_run(run_rc compile_ok ${bindir} ${EBM_CHECKS_DIR}/${source}
    ${flags}
    LINK_LIBRARIES ${arg_LINK_LIBRARIES} ${CMAKE_DL_LIBS}
    COMPILE_OUTPUT_VARIABLE compile_out
    RUN_OUTPUT_VARIABLE run_out)
  set(log ${EBM_CHECKS_BIN}/${name}.log)
  file(WRITE ${log} "${compile_out}\n---- run ----\n${run_out}\n")
  if(NOT compile_ok)
    set(${out}_STATUS COMPILE_FAILED PARENT_SCOPE)
  elseif(NOT run_rc EQUAL 0)
    set(${out}_STATUS RUN_FAILED PARENT_SCOPE)
  else()
    set(${out}_STATUS RAN PARENT_SCOPE)
  endif()
  set(${out}_LOG ${log} PARENT_SCOPE)
  set(${out}_COMPILE_OUTPUT "${compile_out}" PARENT_SCOPE)
  string(REPLACE "\r" "" run_out "${run_out}")
  string(REGEX MATCHALL "[A-Z0-9_]+=[^\n]*" pairs "${run_out}")
  foreach(pair IN LISTS pairs)
    string(REGEX MATCH "^([A-Z0-9_]+)=(.*)$" _ "${pair}")
    string(STRIP "${CMAKE_MATCH_2}" value)
    set(${out}_${CMAKE_MATCH_1} "${value}" PARENT_SCOPE)
  endforeach()
endfunction()

# ebm_problem(text...): one problem (the pieces joined) for the final message.
function(ebm_problem)
  list(JOIN ARGN "" text)
  list(APPEND EBM_DEPS_PROBLEMS "${text}")
  set(EBM_DEPS_PROBLEMS "${EBM_DEPS_PROBLEMS}" PARENT_SCOPE)
endfunction()

# The first 70 characters of a (one-line) library version string.
function(ebm_shorten text var)
  string(LENGTH "${text}" n)
  if(n GREATER 72)
    string(SUBSTRING "${text}" 0 70 text)
    set(text "${text}...")
  endif()
  set(${var} "${text}" PARENT_SCOPE)
endfunction()

# The first "error:" line of a compiler output, for a one-line reason.
function(ebm_first_error output var)
  string(REGEX MATCH "[^\n]*error[^\n]*" line "${output}")
  if(NOT line)
    set(line "see the log")
  endif()
  string(STRIP "${line}" line)
  set(${var} "${line}" PARENT_SCOPE)
endfunction()

# ---- MPI ----
find_package(MPI COMPONENTS C)
set(EBM_MPI_VENDOR other)
if(NOT MPI_C_FOUND)
  ebm_problem(
    "MPI: no MPI C library found (FindMPI looks for the compiler wrapper mpicc${MPI_EXECUTABLE_SUFFIX} on PATH). "
    "Put its bin/ on PATH (module load), or set -DMPI_HOME=<prefix> or -DMPI_C_COMPILER=<path to mpicc>. "
    "Beside Open MPI on Debian, MPICH is -DMPI_EXECUTABLE_SUFFIX=.mpich. Debian packages: libopenmpi-dev or libmpich-dev.")
else()
  ebm_check_run(mpi mpi_identity.c EBM_MPI LINK_LIBRARIES MPI::MPI_C)
  if(NOT EBM_MPI_STATUS STREQUAL "RAN" OR NOT EBM_MPI_MPI_VERSION)
    ebm_problem(
      "MPI: a program linked with the MPI found (${MPI_C_COMPILER}) does not build or run (${EBM_MPI_STATUS}, see ${EBM_MPI_LOG}).")
  else()
    # The library's own name (MPI_Get_library_version, on one line), its
    # first word ("Open", "MPICH") and the file it was loaded from.
    set(EBM_MPI_LIBRARY_VERSION "${EBM_MPI_MPI_VERSION}")
    string(REGEX MATCH "^[^ ]+" EBM_MPI_NAME "${EBM_MPI_MPI_VERSION}")
    set(EBM_MPI_LIBRARY "${EBM_MPI_MPI_LIB}" CACHE INTERNAL "The MPI library file configure checked")
    if(EBM_MPI_MPI_VERSION MATCHES "^Open MPI")
      set(EBM_MPI_VENDOR openmpi)
    elseif(EBM_MPI_MPI_VERSION MATCHES "MPICH|Intel\\(R\\) MPI|MVAPICH")
      set(EBM_MPI_VENDOR mpich)
    endif()
    ebm_shorten("${EBM_MPI_MPI_VERSION}" EBM_MPI_SHORT)
    message(STATUS "MPI: ${EBM_MPI_SHORT} (${EBM_MPI_MPI_LIB})")
  endif()
  # The launcher this build's binary must be started with (an MPICH binary
  # started by Open MPI's mpirun runs as N separate one-rank jobs): recorded
  # for the scripts and the tests, which source this file. A plain mpiexec or
  # mpirun that is a symbolic link is followed, so Debian's /usr/bin/mpiexec
  # (an alternative) is recorded as the mpiexec.openmpi or mpiexec.mpich it
  # stood for at configure time.
  set(launcher "${MPIEXEC_EXECUTABLE}")
  foreach(i RANGE 8)
    if(NOT IS_SYMLINK "${launcher}")
      break()
    endif()
    file(READ_SYMLINK "${launcher}" next)
    if(NOT IS_ABSOLUTE "${next}")
      get_filename_component(dir "${launcher}" DIRECTORY)
      set(next "${dir}/${next}")
    endif()
    get_filename_component(name "${launcher}" NAME)
    if(NOT name MATCHES "^(mpiexec|mpirun)$")
      break()
    endif()
    set(launcher "${next}")
  endforeach()
  set(EBM_MPIEXEC "${launcher}" CACHE INTERNAL "The MPI launcher of this build")
  set(EBM_LAUNCHER_ENV ${CMAKE_BINARY_DIR}/launcher.env)
  file(WRITE ${EBM_LAUNCHER_ENV}
    "# launcher.env: the MPI this build was configured with (written by CMake,\n"
    "# cmake/deps.cmake; shell syntax, to be sourced).\n"
    "EBM_MPIEXEC='${launcher}'\n"
    "EBM_MPIEXEC_NUMPROC_FLAG='${MPIEXEC_NUMPROC_FLAG}'\n"
    "EBM_MPIEXEC_PREFLAGS='${MPIEXEC_PREFLAGS}'\n"
    "EBM_MPIEXEC_POSTFLAGS='${MPIEXEC_POSTFLAGS}'\n"
    "# openmpi, mpich (MPICH and its derivatives) or other, from the library's own name:\n"
    "EBM_MPI_VENDOR='${EBM_MPI_VENDOR}'\n"
    "EBM_MPI_LIBRARY='${EBM_MPI_MPI_LIB}'\n"
    "# the source tree, whose scripts/lib/launcher.sh reads this file (slurm/train.sh\n"
    "# runs from SLURM's spool copy and finds it through here):\n"
    "EBM_SOURCE_DIR='${PROJECT_SOURCE_DIR}'\n")
  message(STATUS "MPI launcher: ${launcher} (recorded in ${EBM_LAUNCHER_ENV})")
endif()

# ---- HDF5 (parallel, built with the MPI above) ----
# FindHDF5 asks HDF5's own CMake package first (hdf5-config.cmake, HDF5_DIR
# or HDF5_ROOT), then the compiler wrapper h5pcc (HDF5_C_COMPILER_EXECUTABLE,
# HDF5_ROOT/bin, PATH). The MPI wrappers' suffix (Debian's .mpich) is tried
# for the HDF5 wrapper too, so -DMPI_EXECUTABLE_SUFFIX=.mpich alone selects
# MPICH's HDF5 beside Open MPI's.
set(HDF5_PREFER_PARALLEL TRUE)
# Build trees configured by ebm_mpi 0.1.0 cached pkg-config's results under the
# HDF5_ and OPENBLAS_ prefixes (HDF5_LIBRARIES "hdf5;mpi" as INTERNAL entries),
# which would shadow FindHDF5's: drop them, so an existing build/ reconfigures.
if(DEFINED CACHE{HDF5_LDFLAGS} OR DEFINED CACHE{OPENBLAS_LDFLAGS})
  get_cmake_property(cached CACHE_VARIABLES)
  foreach(v IN LISTS cached)
    if(v MATCHES "^(HDF5|OPENBLAS)_(FOUND|LIBRARIES|LIBRARY_DIRS|LIBS|LDFLAGS|LDFLAGS_OTHER|INCLUDE_DIRS|INCLUDEDIR|LIBDIR|CFLAGS|CFLAGS_I|CFLAGS_OTHER|PREFIX|VERSION|MODULE_NAME|LINK_LIBRARIES|STATIC_.*|hdf5-openmpi_.*|openblas_.*)$"
       OR v MATCHES "^pkgcfg_lib_(HDF5|OPENBLAS)_")
      unset(${v} CACHE)
    endif()
  endforeach()
endif()
if(MPI_EXECUTABLE_SUFFIX AND NOT HDF5_C_COMPILER_EXECUTABLE AND NOT HDF5_ROOT
   AND "$ENV{HDF5_ROOT}" STREQUAL "")
  find_program(HDF5_C_COMPILER_EXECUTABLE NAMES h5pcc${MPI_EXECUTABLE_SUFFIX}
    DOC "HDF5 C wrapper compiler (h5pcc): FindHDF5 reads HDF5's flags from it")
endif()
find_package(HDF5 QUIET COMPONENTS C)
set(EBM_HDF5_FROM)
if(HDF5_FOUND AND HDF5_IS_PARALLEL)
  add_library(EBM::HDF5 INTERFACE IMPORTED)
  target_link_libraries(EBM::HDF5 INTERFACE HDF5::HDF5)
  if(HDF5_DIR)
    set(EBM_HDF5_FROM "HDF5's CMake package ${HDF5_DIR}")
  elseif(HDF5_C_COMPILER_EXECUTABLE)
    set(EBM_HDF5_FROM "FindHDF5 through ${HDF5_C_COMPILER_EXECUTABLE}")
  else()
    set(EBM_HDF5_FROM "FindHDF5")
  endif()
elseif(PKG_CONFIG_FOUND)
  # pkg-config's names: Debian's per-MPI builds (the one matching the MPI
  # found first), then the plain name other distributions use.
  if(EBM_MPI_VENDOR STREQUAL "mpich")
    set(names hdf5-mpich hdf5-openmpi hdf5)
  else()
    set(names hdf5-openmpi hdf5-mpich hdf5)
  endif()
  foreach(name IN LISTS names)
    string(MAKE_C_IDENTIFIER "EBM_PC_${name}" pc)
    pkg_check_modules(${pc} QUIET IMPORTED_TARGET ${name})
    if(${pc}_FOUND)
      add_library(EBM::HDF5 INTERFACE IMPORTED)
      target_link_libraries(EBM::HDF5 INTERFACE PkgConfig::${pc})
      set(EBM_HDF5_FROM "pkg-config ${name}")
      break()
    endif()
  endforeach()
endif()
if(NOT TARGET EBM::HDF5)
  if(HDF5_FOUND)
    list(JOIN HDF5_INCLUDE_DIRS " " h5inc)
    set(what "the HDF5 found (${h5inc}) is a serial build")
  else()
    set(what "no HDF5 found")
  endif()
  ebm_problem(
    "HDF5: ${what}, but ebm_mpi needs parallel HDF5 built with the MPI above. "
    "Set -DHDF5_ROOT=<prefix> (or the HDF5_ROOT environment variable, as modules do), "
    "-DHDF5_C_COMPILER_EXECUTABLE=<its h5pcc>, or add its prefix to CMAKE_PREFIX_PATH. "
    "Debian packages: libhdf5-openmpi-dev (Open MPI) or libhdf5-mpich-dev (MPICH, h5pcc.mpich).")
elseif(TARGET MPI::MPI_C)
  ebm_check_run(hdf5 hdf5_identity.c EBM_H5 LINK_LIBRARIES EBM::HDF5
    INCLUDES ${MPI_C_INCLUDE_DIRS})
  set(static_note "")
  if(EBM_H5_STATUS STREQUAL "COMPILE_FAILED" AND NOT EBM_H5_COMPILE_OUTPUT MATCHES "EBM_SERIAL_HDF5"
     AND EBM_H5_COMPILE_OUTPUT MATCHES "undefined reference to `P?MPI_")
    # A static libhdf5 carries no record of its MPI: link the MPI found and
    # say that this could not be checked.
    ebm_check_run(hdf5 hdf5_identity.c EBM_H5 LINK_LIBRARIES EBM::HDF5 MPI::MPI_C)
    set(static_note " (a static HDF5: linked with the MPI found; which MPI it was built with cannot be checked)")
    set(EBM_H5_MPI_VERSION "${EBM_MPI_MPI_VERSION}")
  endif()
  if(EBM_H5_STATUS STREQUAL "COMPILE_FAILED")
    if(EBM_H5_COMPILE_OUTPUT MATCHES "EBM_SERIAL_HDF5")
      set(why "its hdf5.h is a serial build (H5_HAVE_PARALLEL unset)")
    else()
      ebm_first_error("${EBM_H5_COMPILE_OUTPUT}" why)
      set(why "a program using it does not build: ${why}")
    endif()
    ebm_problem(
      "HDF5 (${EBM_HDF5_FROM}): ${why} (see ${EBM_H5_LOG}). Point at a parallel HDF5 built with "
      "the MPI above: -DHDF5_ROOT=<prefix> or -DHDF5_C_COMPILER_EXECUTABLE=<its h5pcc>.")
  elseif(NOT EBM_H5_STATUS STREQUAL "RAN")
    ebm_problem(
      "HDF5 (${EBM_HDF5_FROM}): a program linked with it does not run (see ${EBM_H5_LOG}).")
  elseif(NOT EBM_H5_HDF5_MPIO STREQUAL "yes" OR EBM_H5_MPI_LIB STREQUAL "none")
    ebm_problem(
      "HDF5 ${EBM_H5_HDF5_LIB} (${EBM_HDF5_FROM}) is not linked against MPI (no MPI-IO driver): "
      "ebm_mpi needs parallel HDF5 built with the MPI above. "
      "Set -DHDF5_ROOT=<prefix> or -DHDF5_C_COMPILER_EXECUTABLE=<its h5pcc>.")
  elseif(EBM_MPI_MPI_VERSION AND NOT EBM_H5_MPI_VERSION STREQUAL EBM_MPI_MPI_VERSION)
    ebm_shorten("${EBM_H5_MPI_VERSION}" h5_mpi_short)
    ebm_problem(
      "HDF5 ${EBM_H5_HDF5_LIB} (${EBM_HDF5_FROM}) is linked against another MPI than the one found: "
      "it loads ${EBM_H5_MPI_LIB} (\"${h5_mpi_short}\") but the MPI found is ${EBM_MPI_MPI_LIB} "
      "(\"${EBM_MPI_SHORT}\", ${MPI_C_COMPILER}). Mixing two MPIs crashes at run time. "
      "Point at the HDF5 built with this MPI (-DHDF5_C_COMPILER_EXECUTABLE=<its h5pcc>, e.g. "
      "Debian's h5pcc.mpich or h5pcc.openmpi, or -DHDF5_ROOT=<prefix>), or choose the MPI that HDF5 "
      "was built with (-DMPI_C_COMPILER=<mpicc>, or Debian's -DMPI_EXECUTABLE_SUFFIX=.mpich / .openmpi).")
  else()
    message(STATUS "HDF5 ${EBM_H5_HDF5_VERSION} (parallel): ${EBM_H5_HDF5_LIB}, from ${EBM_HDF5_FROM}; "
      "its MPI is the one found${static_note}")
    set(EBM_HDF5_LIBRARY "${EBM_H5_HDF5_LIB}" CACHE INTERNAL "The HDF5 library file configure checked")
  endif()
endif()

# ---- BLAS (a CBLAS: OpenBLAS by default) ----
set(BLA_VENDOR OpenBLAS CACHE STRING
  "BLAS for FindBLAS: OpenBLAS (default, the fast path), FLAME (BLIS), or another FindBLAS vendor")
find_package(BLAS QUIET)
if(NOT BLAS_FOUND)
  ebm_problem(
    "BLAS: FindBLAS found no library for BLA_VENDOR=${BLA_VENDOR}. Install it (Debian: libopenblas-dev, "
    "BLIS: libblis-dev with -DBLA_VENDOR=FLAME), add its prefix to CMAKE_PREFIX_PATH (or its lib/ to "
    "LD_LIBRARY_PATH, as modules do), or choose another with -DBLA_VENDOR=<vendor>.")
else()
  list(JOIN BLAS_LIBRARIES " " blas_libs)
  # cblas.h beside the library found: <prefix>/include for <prefix>/lib and
  # <prefix>/lib/<arch>, and Debian's per-variant directories
  # (lib/<arch>/openblas-pthread -> include/<arch>/openblas-pthread), from the
  # library's path as given and as resolved through symbolic links (Debian's
  # alternatives). EBM_CBLAS_INCLUDE_DIR overrides.
  set(hints)
  foreach(lib IN LISTS BLAS_LIBRARIES)
    if(NOT IS_ABSOLUTE "${lib}")
      continue()
    endif()
    get_filename_component(real "${lib}" REALPATH)
    foreach(path IN ITEMS "${real}" "${lib}")
      get_filename_component(dir "${path}" DIRECTORY)
      get_filename_component(variant "${dir}" NAME)
      get_filename_component(up1 "${dir}/.." ABSOLUTE)
      get_filename_component(up2 "${dir}/../.." ABSOLUTE)
      get_filename_component(up3 "${dir}/../../.." ABSOLUTE)
      list(APPEND hints "${up3}/include/${CMAKE_LIBRARY_ARCHITECTURE}/${variant}"
        "${up2}/include/${variant}" "${up1}/include" "${up2}/include")
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES hints)
  if(BLA_VENDOR MATCHES "^FLAME")
    set(suffixes blis openblas)
  else()
    set(suffixes openblas blis)
  endif()
  if(NOT EBM_CBLAS_INCLUDE_DIR)
    unset(EBM_CBLAS_INCLUDE_DIR CACHE)
  endif()
  find_path(EBM_CBLAS_INCLUDE_DIR cblas.h HINTS ${hints} PATH_SUFFIXES ${suffixes}
    DOC "Directory of the cblas.h that belongs to the BLAS library found")
  if(NOT EBM_CBLAS_INCLUDE_DIR)
    ebm_problem(
      "BLAS: no cblas.h found beside ${blas_libs} (nor on the include path). "
      "Set -DEBM_CBLAS_INCLUDE_DIR=<dir with that library's cblas.h>.")
  else()
    add_library(EBM::BLAS INTERFACE IMPORTED)
    target_link_libraries(EBM::BLAS INTERFACE BLAS::BLAS)
    target_include_directories(EBM::BLAS INTERFACE ${EBM_CBLAS_INCLUDE_DIR})
    ebm_check_run(blas blas_identity.c EBM_BL LINK_LIBRARIES EBM::BLAS)
    if(NOT EBM_BL_STATUS STREQUAL "RAN" OR NOT EBM_BL_SGEMM STREQUAL "ok")
      if(EBM_BL_STATUS STREQUAL "COMPILE_FAILED")
        ebm_first_error("${EBM_BL_COMPILE_OUTPUT}" why)
        set(why "a program calling cblas_sgemm does not build (${why})")
      else()
        set(why "a 2x2 cblas_sgemm through it does not give the right product")
      endif()
      ebm_problem(
        "BLAS ${blas_libs} with ${EBM_CBLAS_INCLUDE_DIR}/cblas.h: ${why} (see ${EBM_BL_LOG}). "
        "Choose another with -DBLA_VENDOR=<vendor>, or its cblas.h with -DEBM_CBLAS_INCLUDE_DIR=<dir>.")
    else()
      # The adapter calls the library's own functions, so they must come from
      # a file linked, not from one it loads underneath (Debian's generic
      # libblas.so.3, whose implementation the alternatives choose at run
      # time): otherwise the adapter is "unknown".
      set(EBM_BLAS_KIND ${EBM_BL_KIND})
      if(NOT EBM_BLAS_KIND STREQUAL "UNKNOWN")
        get_filename_component(provider "${EBM_BL_KIND_LIB}" REALPATH)
        set(linked FALSE)
        foreach(lib IN LISTS BLAS_LIBRARIES)
          get_filename_component(real "${lib}" REALPATH)
          if(real STREQUAL provider)
            set(linked TRUE)
          endif()
        endforeach()
        if(NOT linked)
          message(STATUS "BLAS: ${EBM_BL_KIND} (${EBM_BL_KIND_LIB}) answers underneath ${blas_libs}, "
            "which does not provide its functions itself: no thread control, described as unknown")
          set(EBM_BLAS_KIND UNKNOWN)
        endif()
      endif()
      # Asked for OpenBLAS or BLIS by name, the program must run on it.
      set(asked "")
      if(BLA_VENDOR STREQUAL "OpenBLAS")
        set(asked OPENBLAS)
      elseif(BLA_VENDOR STREQUAL "FLAME")
        set(asked BLIS)
      endif()
      if(asked AND NOT EBM_BLAS_KIND STREQUAL asked)
        ebm_problem(
          "BLAS: BLA_VENDOR=${BLA_VENDOR} asks for ${asked}, but cblas_sgemm comes from ${EBM_BL_BLAS_LIB}, "
          "which is ${EBM_BL_KIND} (${EBM_BL_KIND_LIB}). Check the libraries given to FindBLAS (BLAS_LIBRARIES, "
          "CMAKE_PREFIX_PATH) or ask for what is there with -DBLA_VENDOR=<vendor>.")
      elseif(NOT EBM_BLAS_KIND STREQUAL "UNKNOWN" AND NOT EBM_BL_HEADER STREQUAL EBM_BLAS_KIND)
        ebm_problem(
          "BLAS: the library found (${EBM_BL_BLAS_LIB}) is ${EBM_BLAS_KIND} but ${EBM_CBLAS_INCLUDE_DIR}/cblas.h "
          "is not its header. Set -DEBM_CBLAS_INCLUDE_DIR=<dir with that library's cblas.h>.")
      endif()
      if(EBM_BLAS_KIND STREQUAL "BLIS")
        unset(EBM_BLIS_INCLUDE_DIR CACHE)
        find_path(EBM_BLIS_INCLUDE_DIR blis.h HINTS ${EBM_CBLAS_INCLUDE_DIR} NO_DEFAULT_PATH)
        if(NOT EBM_BLIS_INCLUDE_DIR)
          ebm_problem(
            "BLAS: BLIS found (${EBM_BL_BLAS_LIB}) but no blis.h beside ${EBM_CBLAS_INCLUDE_DIR}/cblas.h.")
        endif()
      endif()
      # src/num/blas.c's adapter: OpenBLAS's or BLIS's thread control and
      # description, or none ("unknown", naming the library file).
      if(EBM_BLAS_KIND STREQUAL "UNKNOWN")
        get_filename_component(name "${EBM_BL_BLAS_LIB}" NAME)
        target_compile_definitions(EBM::BLAS INTERFACE EBM_BLAS_UNKNOWN="${name}")
        set(EBM_BL_DESCRIPTION "unknown")
      else()
        target_compile_definitions(EBM::BLAS INTERFACE EBM_BLAS_${EBM_BLAS_KIND}=1)
      endif()
      if(EBM_BL_HEADER STREQUAL "BLIS")
        # BLIS's cblas.h uses POSIX barrier types, visible only when
        # _POSIX_C_SOURCE is defined before the first system header (C11
        # without extensions defines none); the sources that define it
        # themselves use the same value.
        target_compile_definitions(EBM::BLAS INTERFACE _POSIX_C_SOURCE=200809L)
      endif()
      message(STATUS "BLAS (BLA_VENDOR=${BLA_VENDOR}): ${EBM_BL_DESCRIPTION}: ${EBM_BL_BLAS_LIB}, "
        "cblas.h in ${EBM_CBLAS_INCLUDE_DIR}")
      set(EBM_BLAS_LIBRARY "${EBM_BL_BLAS_LIB}" CACHE INTERNAL "The BLAS library file configure checked")
    endif()
  endif()
endif()

# ---- One message for everything missing or refused ----
if(EBM_DEPS_PROBLEMS)
  list(JOIN EBM_DEPS_PROBLEMS "\n  - " problems)
  message(FATAL_ERROR "ebm_mpi's dependencies:\n  - ${problems}\n"
    "Prefixes of installed packages go in -DCMAKE_PREFIX_PATH=<prefix>[;<prefix>...] "
    "(Spack, modules); docs/install.md shows each case.")
endif()
