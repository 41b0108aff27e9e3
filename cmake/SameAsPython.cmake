# Runs an asyncio program and its aio port and fails, showing a diff, unless both exit with the
# same status and print the same lines on stdout. examples/CMakeLists.txt runs it as the test
# example.X.same_as_python for every example X.cpp that has a sibling X.py:
#
#   cmake -DPYTHON=python3 -DSCRIPT=X.py -DPORT=path/to/X -DWORK_DIR=dir -P SameAsPython.cmake
foreach(var IN ITEMS PYTHON SCRIPT PORT WORK_DIR)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "SameAsPython.cmake: -D${var}=... is required")
    endif()
endforeach()

cmake_path(GET SCRIPT STEM name)
file(MAKE_DIRECTORY "${WORK_DIR}")
set(python_out "${WORK_DIR}/${name}.python.txt")
set(port_out "${WORK_DIR}/${name}.aio.txt")

# One after the other, never side by side: their timing must not disturb each other.
execute_process(COMMAND "${PYTHON}" "${SCRIPT}"
    OUTPUT_FILE "${python_out}" ERROR_VARIABLE python_err RESULT_VARIABLE python_rc)
execute_process(COMMAND "${PORT}"
    OUTPUT_FILE "${port_out}" ERROR_VARIABLE port_err RESULT_VARIABLE port_rc)

file(READ "${python_out}" python_text)
file(READ "${port_out}" port_text)
if(python_text STREQUAL port_text AND python_rc STREQUAL port_rc)
    string(REGEX MATCHALL "\n" lines "${python_text}")
    list(LENGTH lines count)
    message(STATUS "${name}: the asyncio original and the aio port print the same ${count} lines "
                   "and exit with ${port_rc}")
    return()
endif()

find_program(DIFF diff)
if(DIFF)
    execute_process(COMMAND "${DIFF}" -u --label "python3 ${name}.py" --label "aio port ${name}"
        "${python_out}" "${port_out}" OUTPUT_VARIABLE difference)
else()
    set(difference "python3 ${name}.py printed:\n${python_text}\nthe aio port printed:\n${port_text}")
endif()
# Printed as it is (a FATAL_ERROR message would be reflowed), then the failure itself.
message(NOTICE "exit status: python ${python_rc}, aio port ${port_rc}\n${difference}\n"
               "python stderr:\n${python_err}\naio port stderr:\n${port_err}")
message(FATAL_ERROR "${name}: the aio port does not print what its asyncio original prints")
