# bash completion for replayctl(1)                              -*- shell-script -*-
# shellcheck disable=SC2207,SC2034 # the usual COMPREPLY=($(compgen ...)) idiom; _init_completion sets words, cword

_replayctl()
{
    local cur prev words cword
    _init_completion || return

    local commands="status start set diff apply stop watch ping help"
    local global_opts="--socket --json --help --version"
    local start_opts="--from --to --last --export --file --speed --set --overrides --clip-mode --no-wait"
    # The sections an override may touch (KEY=VALUE starts with one of them).
    local sections="detect objects zones motion lpr face_recognition"

    case $prev in
        --socket | --overrides)
            _filedir
            return
            ;;
        --file)
            # Relative to the daemon's import dir, which replayctl cannot see.
            return
            ;;
        --speed)
            COMPREPLY=($(compgen -W "0.25 0.5 1 2 4 8 16" -- "$cur"))
            return
            ;;
        --clip-mode)
            COMPREPLY=($(compgen -W "auto link copy" -- "$cur"))
            return
            ;;
        --set | --reset)
            compopt -o nospace 2>/dev/null
            COMPREPLY=($(compgen -W "$sections" -S . -- "$cur"))
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
        set)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--overrides --reset --socket --json --help" -- "$cur"))
            else
                compopt -o nospace 2>/dev/null
                COMPREPLY=($(compgen -W "$sections" -S . -- "$cur"))
            fi
            ;;
        apply)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--yes --socket --json --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$sections" -- "$cur"))
            fi
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
