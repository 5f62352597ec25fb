# library.cmake: libebm_mpi, the public calls of include/ebm_mpi/ over the
# layers' internal libraries, shared and static, and their installation as
# a CMake package and a pkg-config file (docs/api.md).

# The header's version is the library's: it must be the project's.
file(STRINGS ${CMAKE_SOURCE_DIR}/include/ebm_mpi/ebm_mpi.h ebm_version_lines
     REGEX "^#define EBM_MPI_VERSION_(MAJOR|MINOR|PATCH) ")
set(EBM_API_VERSION)
foreach(part MAJOR MINOR PATCH)
  string(REGEX MATCH "EBM_MPI_VERSION_${part} ([0-9]+)" _ "${ebm_version_lines}")
  list(APPEND EBM_API_VERSION ${CMAKE_MATCH_1})
endforeach()
list(GET EBM_API_VERSION 0 EBM_API_MAJOR)
list(JOIN EBM_API_VERSION "." EBM_API_VERSION)
if(NOT EBM_API_VERSION STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "include/ebm_mpi/ebm_mpi.h says version ${EBM_API_VERSION}, "
    "the project is ${PROJECT_VERSION}: change both together")
endif()

set(EBM_LIB_DIR ${CMAKE_BINARY_DIR}/lib)

# Shared: the API's objects and, from the layers' archives, what they use;
# everything but the EBM_MPI_API functions is hidden (-fvisibility=hidden).
add_library(ebm_mpi_shared SHARED $<TARGET_OBJECTS:ebm_api>)
set_target_properties(ebm_mpi_shared PROPERTIES OUTPUT_NAME ebm_mpi
  VERSION ${EBM_API_VERSION} SOVERSION ${EBM_API_MAJOR}
  LIBRARY_OUTPUT_DIRECTORY ${EBM_LIB_DIR})
target_link_libraries(ebm_mpi_shared PRIVATE ebm_app)
target_link_options(ebm_mpi_shared PRIVATE -Wl,-z,defs -Wl,--exclude-libs,ALL)
target_include_directories(ebm_mpi_shared PUBLIC
  $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

# Static: one relocatable object holding the API and every layer (ld -r),
# whose hidden symbols objcopy then makes local, so that the archive's only
# global symbols are the public ebm_* calls and a user's own dist_init or
# model_forward cannot collide with ours (tests/api: api.static_collision).
# The public calls: every function a public header declares EBM_MPI_API.
# GCC's target_clones ifuncs (src/num/vmath.h) stay global whatever their
# visibility, so objcopy is also told which symbols alone stay global.
set(EBM_PUBLIC_HEADERS ${CMAKE_SOURCE_DIR}/include/ebm_mpi/ebm_mpi.h
  ${CMAKE_SOURCE_DIR}/include/ebm_mpi/ebm_mpi_mpi.h)
set(EBM_EXPORTS)
foreach(h ${EBM_PUBLIC_HEADERS})
  file(READ ${h} text)
  string(REGEX MATCHALL "EBM_MPI_API[^;(]*[ *](ebm_[a-z0-9_]+)[ \t\n]*\\(" decls "${text}")
  foreach(decl ${decls})
    string(REGEX MATCH "(ebm_[a-z0-9_]+)[ \t\n]*\\($" _ "${decl}")
    list(APPEND EBM_EXPORTS ${CMAKE_MATCH_1})
  endforeach()
endforeach()
list(JOIN EBM_EXPORTS "\n" exports_text)
file(WRITE ${EBM_LIB_DIR}/ebm_mpi.exports "${exports_text}\n")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${EBM_PUBLIC_HEADERS})
set(EBM_ALL_O ${EBM_LIB_DIR}/ebm_mpi_all.o)
set(EBM_LAYERS_LIBS ebm_app ebm_io ebm_ebm ebm_num ebm_par ebm_core)
set(ebm_layer_files)
foreach(lib ${EBM_LAYERS_LIBS})
  list(APPEND ebm_layer_files $<TARGET_FILE:${lib}>)
endforeach()
find_program(EBM_OBJCOPY NAMES ${CMAKE_OBJCOPY} objcopy REQUIRED)
add_custom_command(OUTPUT ${EBM_ALL_O}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${EBM_LIB_DIR}
  COMMAND ${CMAKE_LINKER} -r -o ${EBM_ALL_O} $<TARGET_OBJECTS:ebm_api>
          --whole-archive ${ebm_layer_files} --no-whole-archive
  COMMAND ${EBM_OBJCOPY} --localize-hidden --keep-global-symbols=${EBM_LIB_DIR}/ebm_mpi.exports
          ${EBM_ALL_O}
  DEPENDS ebm_api $<TARGET_OBJECTS:ebm_api> ${EBM_LAYERS_LIBS} ${ebm_layer_files}
          ${EBM_LIB_DIR}/ebm_mpi.exports
  COMMAND_EXPAND_LISTS
  COMMENT "Linking the static library's one object (ld -r, objcopy --localize-hidden)")
set_source_files_properties(${EBM_ALL_O} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
add_library(ebm_mpi_static STATIC ${EBM_ALL_O})
set_target_properties(ebm_mpi_static PROPERTIES OUTPUT_NAME ebm_mpi LINKER_LANGUAGE C
  ARCHIVE_OUTPUT_DIRECTORY ${EBM_LIB_DIR})
target_include_directories(ebm_mpi_static PUBLIC
  $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(ebm_mpi_static INTERFACE $<BUILD_INTERFACE:MPI::MPI_C EBM::HDF5 EBM::BLAS
  Threads::Threads m>)

# ---- installation: headers, both libraries, the CMake package, ebm_mpi.pc ----
include(CMakePackageConfigHelpers)
set(EBM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ebm_mpi)
set_target_properties(ebm_mpi_shared ebm_mpi_static PROPERTIES EXPORT_NAME ebm_mpi)
# What a static user links besides the archive: the MPI found (through
# find_dependency in the package), and the HDF5 and BLAS files configure
# checked (cmake/deps.cmake).
set(EBM_STATIC_DEPS_FILES ${EBM_HDF5_LIBRARY} ${BLAS_LIBRARIES})
foreach(dep MPI::MPI_C ${EBM_STATIC_DEPS_FILES} Threads::Threads m)
  target_link_libraries(ebm_mpi_static INTERFACE $<INSTALL_INTERFACE:${dep}>)
endforeach()
install(TARGETS ebm_mpi_shared EXPORT ebm_mpi_shared
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS ebm_mpi_static EXPORT ebm_mpi_static
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${EBM_PUBLIC_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ebm_mpi)
install(EXPORT ebm_mpi_shared NAMESPACE ebm_mpi:: FILE ebm_mpi-shared-targets.cmake
  DESTINATION ${EBM_CMAKE_DIR})
install(EXPORT ebm_mpi_static NAMESPACE ebm_mpi:: FILE ebm_mpi-static-targets.cmake
  DESTINATION ${EBM_CMAKE_DIR})
# "Open MPI v4.1.4", "MPICH Version: 4.0.2": the library's name and version.
string(REGEX REPLACE "[,\n].*" "" EBM_MPI_SHORT "${EBM_MPI_LIBRARY_VERSION}")
if(NOT EBM_MPI_SHORT)
  set(EBM_MPI_SHORT "${EBM_MPI_VENDOR}")
endif()
configure_package_config_file(cmake/ebm_mpiConfig.cmake.in
  ${CMAKE_BINARY_DIR}/ebm_mpiConfig.cmake INSTALL_DESTINATION ${EBM_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ebm_mpiConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ebm_mpiConfig.cmake ${CMAKE_BINARY_DIR}/ebm_mpiConfigVersion.cmake
  DESTINATION ${EBM_CMAKE_DIR})
# ebm_mpi.pc is written at install time, for the prefix installed to
# (cmake --install --prefix P): its libdir is that prefix's.
set(pc_private)
foreach(lib ${MPI_C_LIBRARIES} ${EBM_STATIC_DEPS_FILES})
  string(APPEND pc_private " ${lib}")
endforeach()
string(APPEND pc_private " -lpthread -lm")
string(STRIP "${pc_private}" PC_LIBS_PRIVATE)
set(PC_PREFIX "@PC_PREFIX@")
configure_file(cmake/ebm_mpi.pc.in ${CMAKE_BINARY_DIR}/ebm_mpi.pc.in @ONLY)
install(CODE "set(PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
configure_file(\"${CMAKE_BINARY_DIR}/ebm_mpi.pc.in\"
  \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/ebm_mpi.pc\" @ONLY)
message(STATUS \"Installing: \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/ebm_mpi.pc\")")
