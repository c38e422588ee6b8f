# fish completion for replayd(8)

complete -c replayd -f
complete -c replayd -l config -r -F -d 'replayd.toml to read'
complete -c replayd -l check-config -d 'Load the configuration, print what was found, exit'
complete -c replayd -s h -l help -d 'Print help'
complete -c replayd -s V -l version -d 'Print version'
