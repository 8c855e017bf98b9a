# Shared compile settings for every chorus target.
add_library(chorus_options INTERFACE)
target_compile_options(chorus_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow
  -Wnon-virtual-dtor -Wcast-align -Wimplicit-fallthrough)
if(CHORUS_WERROR)
  target_compile_options(chorus_options INTERFACE -Werror)
endif()
target_include_directories(chorus_options INTERFACE ${PROJECT_SOURCE_DIR}/src)

# chorus_library(name SOURCES ... DEPS ...): one library target per module under src/chorus.
function(chorus_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(chorus_${name} STATIC ${ARG_SOURCES})
  target_link_libraries(chorus_${name} PUBLIC chorus_options ${ARG_DEPS})
endfunction()

# chorus_test(name LABEL label SOURCES ... DEPS ...): a GoogleTest binary registered with ctest.
function(chorus_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE chorus_options ${ARG_DEPS} GTest::gtest GTest::gtest_main
    rapidcheck_gtest rapidcheck)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  add_test(NAME ${name} COMMAND ${name} --gtest_brief=1)
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABEL}" TIMEOUT ${ARG_TIMEOUT})
endfunction()

# chorus_pure(name): the module's sources are checked on every build by check_purity.cmake.
function(chorus_pure name)
  add_custom_target(${name}_purity
    COMMAND ${CMAKE_COMMAND} -DDIRS=${CMAKE_CURRENT_SOURCE_DIR} -P ${PROJECT_SOURCE_DIR}/cmake/check_purity.cmake
    COMMENT "Checking that ${name} stays pure")
  add_dependencies(chorus_${name} ${name}_purity)
endfunction()
