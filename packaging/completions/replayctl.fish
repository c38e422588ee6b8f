# fish completion for replayctl(1)

set -l commands status start set diff apply stop watch ping help
set -l sections detect objects zones motion lpr face_recognition

complete -c replayctl -f
complete -c replayctl -l socket -r -F -d 'Control socket'
complete -c replayctl -l json -d "Print the daemon's JSON instead of text"
complete -c replayctl -s h -l help -d 'Print help'
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -s V -l version -d 'Print version'

complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a status -d 'Show the session, the job and the last summary'
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a start -d 'Start a replay session'
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a set -d 'Change settings of the running replay camera live'
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a diff -d 'Print the overrides as YAML to paste under the source camera'
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a apply -d 'Write the overrides into the source camera (asks first)'
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a stop -d 'Stop the session and wait for its cleanup'
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a watch -d 'Print events as they come'
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a ping -d "Print the daemon's version and protocol"
complete -c replayctl -n "not __fish_seen_subcommand_from $commands" -a help -d 'Print help of a command'

complete -c replayctl -n "__fish_seen_subcommand_from start" -l from -x -a 'now -5m -1h' -d 'Start of the range (RFC 3339, local time, Unix seconds, -5m)'
complete -c replayctl -n "__fish_seen_subcommand_from start" -l to -x -a 'now' -d 'End of the range'
complete -c replayctl -n "__fish_seen_subcommand_from start" -l last -x -a '1m 5m 15m 30m 1h' -d 'Replay the last DUR up to now'
complete -c replayctl -n "__fish_seen_subcommand_from start" -l export -x -d 'Replay an export'
complete -c replayctl -n "__fish_seen_subcommand_from start" -l file -x -d "Replay a file (path relative to the daemon's import dir)"
complete -c replayctl -n "__fish_seen_subcommand_from start" -l speed -x -a '0.25 0.5 1 2 4 8 16' -d 'Replay speed, 0.25 to 16'
complete -c replayctl -n "__fish_seen_subcommand_from start" -l set -x -a "$sections" -d 'Override a setting (KEY=VALUE, VALUE is YAML)'
complete -c replayctl -n "__fish_seen_subcommand_from start" -l overrides -r -F -d 'Overrides from a YAML file'
complete -c replayctl -n "__fish_seen_subcommand_from start" -l clip-mode -x -a 'auto link copy' -d 'How the footage is prepared'
complete -c replayctl -n "__fish_seen_subcommand_from set" -a "$sections" -d 'KEY=VALUE under this section'
complete -c replayctl -n "__fish_seen_subcommand_from set" -l overrides -r -F -d 'Settings from a YAML file'
complete -c replayctl -n "__fish_seen_subcommand_from set" -l reset -x -a "'*' $sections" -d "Return keys to the source camera's values"
complete -c replayctl -n "__fish_seen_subcommand_from apply" -a "$sections" -d 'Section to apply'
complete -c replayctl -n "__fish_seen_subcommand_from apply" -s y -l yes -d 'Do not ask'
complete -c replayctl -n "__fish_seen_subcommand_from start" -l no-wait -d 'Return once the daemon accepted the start'
complete -c replayctl -n "__fish_seen_subcommand_from help" -a "$commands"
