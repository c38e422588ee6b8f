# fish completion for replayctl(1)

set -l commands status start stop watch ping help

complete -c replayctl -f
complete -c replayctl -l socket -r -F -d 'Control socket'
complete -c replayctl -l json -d "Print the daemon's JSON instead of text"
complete -c replayctl -s h -l help -d 'Print help'
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -s V -l version -d 'Print version'

complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a status -d 'Show the session, the job and the last summary'
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a start -d 'Start a replay session'
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a stop -d 'Stop the session and wait for its cleanup'
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a watch -d 'Print events as they come'
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a ping -d "Print the daemon's version and protocol"
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a help -d 'Print help of a command'

complete -c replayctl -n "__fish_seen_subcommand_from start" -l from -x -a 'now -5m -1h' -d 'Start of the range (RFC 3339, local time, Unix seconds, -5m)'
complete -c replayctl -n "__fish_seen_subcommand_from start" -l to -x -a 'now' -d 'End of the range'
complete -c replayctl -n "__fish_seen_subcommand_from start" -l last -x -a '1m 5m 15m 30m 1h' -d 'Replay the last DUR up to now'
complete -c replayctl -n "__fish_seen_subcommand_from start" -l export -x -d 'Replay an export'
complete -c replayctl -n "__fish_seen_subcommand_from start" -l no-wait -d 'Return once the daemon accepted the start'
complete -c replayctl -n "__fish_seen_subcommand_from help" -a "$commands"
