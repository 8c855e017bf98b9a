# chorus/docstore decoders: op records, the manifest and snapshot files.
chorus_fuzzer(fuzz_docstore_decode SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/docstore_decode_fuzz.cc
  DEPS chorus_docstore)
