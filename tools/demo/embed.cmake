# Turns the demo page (index.html, app.js, style.css in this folder) into
# tools/demo_page.c, so `wsx serve` needs no files at run time.
#
#   cmake -P tools/demo/embed.cmake              # rewrites tools/demo_page.c
#   cmake -DOUT=/tmp/x.c -P tools/demo/embed.cmake
#
# tests/interop/test_demo.sh checks that the checked-in file is up to date.
set(_dir ${CMAKE_CURRENT_LIST_DIR})
if(NOT DEFINED OUT)
  set(OUT ${_dir}/../demo_page.c)
endif()

# url path, file, media type (all UTF-8 text), C identifier
set(_files
  "/|index.html|text/html|index_html"
  "/app.js|app.js|text/javascript|app_js"
  "/style.css|style.css|text/css|style_css")

string(CONCAT _c "/* tools/demo_page.c: GENERATED from tools/demo/ by tools/demo/embed.cmake.\n"
       " * Edit the files there and run: cmake -P tools/demo/embed.cmake */\n"
       "#include \"demo_page.h\"\n")
set(_table "")
set(_count 0)
foreach(_f IN LISTS _files)
  string(REPLACE "|" ";" _parts "${_f}")
  list(GET _parts 0 _url)
  list(GET _parts 1 _name)
  list(GET _parts 2 _type)
  list(GET _parts 3 _id)
  file(READ ${_dir}/${_name} _s)
  if(_s MATCHES "\\?\\?")
    message(FATAL_ERROR "${_name}: '??' would form a C trigraph")
  endif()
  string(REPLACE "\\" "\\\\" _s "${_s}")
  string(REPLACE "\"" "\\\"" _s "${_s}")
  string(REPLACE "\n" "\\n\"\n    \"" _s "${_s}")
  string(APPEND _c "\nstatic const char ${_id}[] =\n    \"${_s}\";\n")
  string(APPEND _table "    {\"${_url}\", \"${_type}; charset=utf-8\", ${_id}, sizeof ${_id} - 1},\n")
  math(EXPR _count "${_count} + 1")
endforeach()
string(APPEND _c "\nconst wsx_demo_file wsx_demo_files[] = {\n${_table}};\n"
       "const size_t wsx_demo_num_files = ${_count};\n")
# Drop the empty literal left after each file's final newline.
string(REPLACE "\\n\"\n    \"\";" "\\n\";" _c "${_c}")
file(WRITE ${OUT} "${_c}")
