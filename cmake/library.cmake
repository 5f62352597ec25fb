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
set(EBM_PUBLIC_HEADERS ${CMAKE_SOURCE_DIR}/include/ebm_mpi/ebm_mpi.h)
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
