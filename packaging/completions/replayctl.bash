# bash completion for replayctl(1)                              -*- shell-script -*-
# shellcheck disable=SC2207,SC2034 # the usual COMPREPLY=($(compgen ...)) idiom; _init_completion sets words, cword

_replayctl()
{
    local cur prev words cword
    _init_completion || return

    local commands="status start stop watch ping help"
    local global_opts="--socket --json --help --version"
    local start_opts="--from --to --last --export --no-wait"

    case $prev in
        --socket)
            _filedir
            return
            ;;
        --from | --to)
            COMPREPLY=($(compgen -W "now -5m -15m -1h" -- "$cur"))
            return
            ;;
        --last)
            COMPREPLY=($(compgen -W "1m 5m 15m 30m 1h" -- "$cur"))
            return
            ;;
        --export)
            return
            ;;
    esac

    # The command: the first word that is not an option or an option's value.
    local i command=""
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --socket) ((i++)) ;;
            -*) ;;
            *)
                command=${words[i]}
                break
                ;;
        esac
    done

    case $command in
        "")
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$global_opts" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$commands" -- "$cur"))
            fi
            ;;
        start)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$start_opts --socket --json --help" -- "$cur"))
            fi
            # Camera names live in the NVR config, which replayctl cannot read.
            ;;
        help)
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
            ;;
        *)
            COMPREPLY=($(compgen -W "--socket --json --help" -- "$cur"))
            ;;
    esac
} &&
    complete -F _replayctl replayctl

# ex: filetype=sh
