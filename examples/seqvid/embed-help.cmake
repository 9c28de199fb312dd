# cmake -DOUT=help.h -P embed-help.cmake help/a.txt help/b.txt ...
# Turns each help/<name>.txt into `static const char help_<name>[] = "...";` so the texts
# have one source that both `seqvid <name> --help` and examples/demo.sh --help print.
set(text "/* Generated from examples/seqvid/help/<name>.txt by embed-help.cmake: do not edit. */\n")
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE 0 ${last})
  set(arg "${CMAKE_ARGV${i}}")
  if(NOT arg MATCHES "\\.txt$")
    continue()
  endif()
  get_filename_component(name "${arg}" NAME_WE)
  file(READ "${arg}" body)
  string(REPLACE "\\" "\\\\" body "${body}")
  string(REPLACE "\"" "\\\"" body "${body}")
  string(REPLACE "\n" "\\n\"\n    \"" body "${body}")
  string(APPEND text "static const char help_${name}[] =\n    \"${body}\";\n")
endforeach()
file(WRITE "${OUT}.tmp" "${text}")
file(RENAME "${OUT}.tmp" "${OUT}")
