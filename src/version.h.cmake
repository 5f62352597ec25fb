# Writes version.h with the current git revision; run at every build (cmake -P)
# so the binary and its checkpoints name the commit they were built from.
# In: SRC_DIR, IN (version.h.in), OUT, PROJECT_VERSION.
set(EBM_GIT_REVISION "unknown")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${SRC_DIR}/.git")
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty --abbrev=12
    WORKING_DIRECTORY ${SRC_DIR} OUTPUT_VARIABLE rev RESULT_VARIABLE rc
    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(rc EQUAL 0 AND rev)
    set(EBM_GIT_REVISION "${rev}")
  endif()
endif()
configure_file(${IN} ${OUT} @ONLY) # rewrites only when the text changes
