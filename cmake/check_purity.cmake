# Fails the build if a pure module (raft/, kv/, resp/) includes a header that brings threads,
# clocks, sockets, files or randomness: those belong in the driver (DESIGN.md, "Layers").
# Run as: cmake -DDIRS="dir1;dir2" -P check_purity.cmake
set(forbidden "#include[ \t]*<(asio|thread|chrono|filesystem|random|fstream)")
foreach(dir ${DIRS})
  file(GLOB_RECURSE sources ${dir}/*.h ${dir}/*.cc)
  foreach(f ${sources})
    file(STRINGS ${f} hits REGEX "${forbidden}")
    if(hits)
      message(FATAL_ERROR "${f} must stay pure (no I/O, threads, clocks, randomness): ${hits}")
    endif()
  endforeach()
endforeach()
