# The man page ebm_mpi(1) and the bash completion, generated at build time
# from the binary's own --help texts (cmake/docs/), so they list exactly the
# options --help lists and nothing is restated by hand. help2man (Debian's
# help2man) writes the page; without it the page is left out with one line
# saying so, and the completion is still built.
find_program(EBM_HELP2MAN help2man)
set(EBM_MAN_PAGE ${PROJECT_BINARY_DIR}/share/man/man1/ebm_mpi.1)
set(EBM_COMPLETION ${PROJECT_BINARY_DIR}/share/bash-completion/completions/ebm_mpi)
set(EBM_GENERATED_DOCS ${EBM_COMPLETION})
add_custom_command(OUTPUT ${EBM_COMPLETION}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/share/bash-completion/completions
  COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0
          ${PROJECT_SOURCE_DIR}/cmake/docs/gen_completion.sh $<TARGET_FILE:ebm_mpi> > ${EBM_COMPLETION}.tmp
  COMMAND ${CMAKE_COMMAND} -E rename ${EBM_COMPLETION}.tmp ${EBM_COMPLETION}
  DEPENDS ebm_mpi ${PROJECT_SOURCE_DIR}/cmake/docs/gen_completion.sh
  COMMENT "bash completion from ebm_mpi --help"
  VERBATIM)
install(FILES ${EBM_COMPLETION} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
if(EBM_HELP2MAN)
  add_custom_command(OUTPUT ${EBM_MAN_PAGE}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/share/man/man1
    COMMAND ${CMAKE_COMMAND} -E env EBM_MPI_BIN=$<TARGET_FILE:ebm_mpi> ASAN_OPTIONS=detect_leaks=0
            ${EBM_HELP2MAN} --no-info --section=1
            "--name=data-parallel training of a joint energy-based model of digits"
            --include=${PROJECT_SOURCE_DIR}/cmake/docs/see_also.h2m
            --output=${EBM_MAN_PAGE} ${PROJECT_SOURCE_DIR}/cmake/docs/help_all.sh
    DEPENDS ebm_mpi ${PROJECT_SOURCE_DIR}/cmake/docs/help_all.sh
            ${PROJECT_SOURCE_DIR}/cmake/docs/see_also.h2m
    COMMENT "man page ebm_mpi.1 from ebm_mpi --help (help2man)"
    VERBATIM)
  list(APPEND EBM_GENERATED_DOCS ${EBM_MAN_PAGE})
  install(FILES ${EBM_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "ebm_mpi(1) not built: help2man not found (Debian: apt-get install help2man)")
endif()
# ASAN_OPTIONS: in the sanitizer tree (EBM_SANITIZE) the binary reports the
# MPI library's allocations still held at exit as leaks and exits non-zero,
# which would fail the build; the page needs only the help texts (leaks are
# the unit tests' and valgrind's to find, tests/unit/lsan.supp).
add_custom_target(ebm_mpi_docs ALL DEPENDS ${EBM_GENERATED_DOCS})
