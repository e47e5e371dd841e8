# bash completion for aslnet: commands, bench's subcommands, and each command's options, read from the
# binary's own --help so that completion never lags behind the command line. Installed as
# share/bash-completion/completions/aslnet; to try it from a build: source scripts/install/aslnet-completion.bash
_aslnet() {
  local cur=${COMP_WORDS[COMP_CWORD]} program=${COMP_WORDS[0]}
  # The command words typed so far: "train", or "bench" and its subcommand.
  local -a words=()
  local i
  for ((i = 1; i < COMP_CWORD; i++)); do
    [[ ${COMP_WORDS[i]} == -* ]] && continue
    if ((${#words[@]} == 0)) || [[ ${words[0]} == bench && ${#words[@]} == 1 ]]; then
      words+=("${COMP_WORDS[i]}")
    else
      break
    fi
  done
  # Names listed under "Subcommands:" in a help text.
  _aslnet_subcommands() { "$program" "$@" --help 2> /dev/null | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'; }
  if [[ $cur == -* ]]; then
    local options
    options=$("$program" "${words[@]}" --help 2> /dev/null | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u)
    mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
  elif ((${#words[@]} == 0)); then
    mapfile -t COMPREPLY < <(compgen -W "$(_aslnet_subcommands)" -- "$cur")
  elif [[ ${words[0]} == bench && ${#words[@]} == 1 ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_aslnet_subcommands bench)" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")  # sources, checkpoints, images: paths
  fi
}
complete -o filenames -F _aslnet aslnet
