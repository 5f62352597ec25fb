#!/bin/sh
# help_all.sh: what help2man reads to write ebm_mpi(1). help2man runs
# "PROGRAM --help" and "PROGRAM --version"; this stands in for the program
# and answers with the binary's own texts ($EBM_MPI_BIN): its --version, its
# --help, then each command's --help reshaped into help2man's forms (a
# heading per command, one line per paragraph, the options under "Options of
# CMD:"). The usage and exit-status blocks of the commands repeat the main
# --help's and are left out. Nothing here restates an option: the page
# follows the binary.
set -eu
b=${EBM_MPI_BIN:?EBM_MPI_BIN: the ebm_mpi binary}
case "${1:-}" in
--version)  # "ebm_mpi X.Y.Z": the page carries no git revision
    "$b" --version | sed -n '1s/^\([^ ]* [^ ]*\).*/\1/p'
    exit ;;
--help) ;;
*) echo "usage: EBM_MPI_BIN=BIN $0 --help|--version" >&2; exit 2 ;;
esac
"$b" --help
# The commands, as the main usage names them ("ebm_mpi CMD ...").
for c in $("$b" --help | sed -n 's/.*ebm_mpi \([a-z][a-z]*\) .*/\1/p'); do
    printf '\nThe %s command:\n' "$c"
    "$b" "$c" --help | awk -v cmd="$c" '
      function flush() { if (para != "") { print "  " para; print "" } para = "" }
      /^usage:/ { usage = 1; next }
      usage && /^ / { next }
      { usage = 0 }
      /^Exit status:/ { skip = 1 }
      skip { if ($0 == "") skip = 0; next }
      /^$/ { next }
      # An option whose metavar leaves one space before its text: two, so
      # that help2man tells the option from its description.
      /^  --[a-z-]+ [^ ]+ [^ ]/ { sub(/^  --[a-z-]+ [^ ]+/, "&  ") }
      /^  --/ || /^      / {
          flush()
          if (!inopt) print "Options of " cmd ":"
          inopt = 1; print; next
      }
      /^    / { sub(/^ +/, ""); para = para " " $0; next }
      /^  / { flush(); sub(/^ +/, ""); para = $0; next }
      /:$/ { flush(); inopt = 0; print ""; print; next }
      { inopt = 0; para = (para == "" ? $0 : para " " $0) }
      END { flush() }'
done
