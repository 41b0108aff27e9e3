# aio_find_python_with(<var> MODULES <module>...): sets <var> to a Python 3.11 or newer that can
# import every module listed (aiohttp, say, for the tests that run the HTTP layer against it), or
# to "" when there is none. Tried in turn: the Python that find_package(Python3) found, each
# python3 on PATH, then the system's own (a version manager's python3 often comes first on PATH
# without the distribution's packages).
include_guard(GLOBAL)
function(aio_find_python_with out)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "MODULES")
    set(candidates "")
    if(Python3_EXECUTABLE)
        list(APPEND candidates "${Python3_EXECUTABLE}")
    endif()
    string(REPLACE ":" ";" path_dirs "$ENV{PATH}")
    foreach(dir IN LISTS path_dirs ITEMS /usr/local/bin /usr/bin)
        if(dir AND EXISTS "${dir}/python3")
            list(APPEND candidates "${dir}/python3")
        endif()
    endforeach()
    list(REMOVE_DUPLICATES candidates)
    list(JOIN arg_MODULES ", " imports)
    set(check "import sys; assert sys.version_info >= (3, 11)")
    if(imports)
        string(APPEND check "; import ${imports}")
    endif()
    foreach(candidate IN LISTS candidates)
        execute_process(COMMAND "${candidate}" -c "${check}"
            RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
        if(rc EQUAL 0)
            set(${out} "${candidate}" PARENT_SCOPE)
            return()
        endif()
    endforeach()
    set(${out} "" PARENT_SCOPE)
endfunction()
