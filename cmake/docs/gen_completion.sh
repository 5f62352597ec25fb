#!/bin/bash
# gen_completion.sh BIN: writes to stdout the bash completion of ebm_mpi,
# read from the binary's own --help texts (the commands its usage names, each
# command's options and their metavars), so it lists exactly what --help
# lists. A metavar F completes file names, DIR directories, a list a|b|c its
# words (F|uniform|shuffled: files and the words); FILE as F; N, X and the
# like nothing.
set -euo pipefail
bin=${1:?usage: gen_completion.sh EBM_MPI_BINARY}
mapfile -t cmds < <("$bin" --help | sed -n 's/.*ebm_mpi \([a-z][a-z]*\) .*/\1/p')
[ "${#cmds[@]}" -gt 0 ] || { echo "gen_completion.sh: no command in $bin --help" >&2; exit 1; }
# The program's own options: those of the usage line without a command
# ("ebm_mpi --help | --version | CMD --help").
top=$("$bin" --help | grep -E '^ *(usage: )?ebm_mpi --' | grep -o -- '--[a-z][a-z-]*' | awk '!seen[$0]++' | tr '\n' ' ')

cat <<HEAD
# bash completion for ebm_mpi. Generated at build time from the --help of
# ebm_mpi and of each command (cmake/docs/gen_completion.sh): do not edit.
_ebm_mpi() {
    local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
    local cmd= i opts words files=0 dirs=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        case \${COMP_WORDS[i]} in
        $(IFS='|'; echo "${cmds[*]}")) cmd=\${COMP_WORDS[i]}; break ;;
        esac
    done
    COMPREPLY=()
    case \$cmd in
HEAD
for c in "${cmds[@]}"; do
    # "  --name METAVAR   text": name and metavar of every option line.
    mapfile -t lines < <("$bin" "$c" --help | sed -n 's/^  \(--[a-z][a-z-]*\)\( [^ ]*\)\{0,1\}.*/\1\2/p')
    names=() values=()
    for l in "${lines[@]}"; do
        name=${l%% *}; meta=${l#"$name"}; meta=${meta# }
        names+=("$name")
        words=() f=0 d=0
        IFS='|' read -r -a alts <<<"$meta"
        for a in "${alts[@]}"; do
            case $a in
            F | FILE) f=1 ;;
            DIR) d=1 ;;
            [a-z]*) words+=("$a") ;;
            esac
        done
        if [ "${#words[@]}" -gt 0 ] || [ $f = 1 ] || [ $d = 1 ]; then
            values+=("        $name) words=\"${words[*]}\"; files=$f; dirs=$d ;;")
        elif [ -n "$meta" ]; then
            values+=("        $name) return ;;")
        fi
    done
    echo "    $c)"
    echo "        opts=\"${names[*]}\""
    if [ "${#values[@]}" -gt 0 ]; then
        echo "        case \$prev in"
        printf '%s\n' "${values[@]}" | sed 's/^/    /'
        echo "        esac ;;"
    else
        echo "        ;;"
    fi
done
cat <<TAIL
    *) COMPREPLY=(\$(compgen -W "${cmds[*]} ${top% }" -- "\$cur")); return ;;
    esac
    if [ -n "\${words+x}" ]; then
        COMPREPLY=(\$(compgen -W "\$words" -- "\$cur"))
        [ \$files = 1 ] && COMPREPLY+=(\$(compgen -f -- "\$cur"))
        [ \$dirs = 1 ] && COMPREPLY+=(\$(compgen -d -- "\$cur"))
        return
    fi
    COMPREPLY=(\$(compgen -W "\$opts" -- "\$cur"))
}
complete -F _ebm_mpi ebm_mpi
TAIL
