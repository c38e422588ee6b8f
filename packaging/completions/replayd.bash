# bash completion for replayd(8)                                -*- shell-script -*-
# shellcheck disable=SC2207,SC2034 # the usual COMPREPLY=($(compgen ...)) idiom; _init_completion sets words, cword

_replayd()
{
    local cur prev words cword
    _init_completion || return

    case $prev in
        --config)
            _filedir toml
            return
            ;;
        --help | -h | --version | -V)
            return
            ;;
    esac
    COMPREPLY=($(compgen -W "--config --check-config --help --version" -- "$cur"))
} &&
    complete -F _replayd replayd

# ex: filetype=sh
