# chorus/resp decoders: client requests (the server's parser) and replies (the clients' parser).
chorus_fuzzer(fuzz_resp_request SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/resp_request_fuzz.cc DEPS chorus_resp)
chorus_fuzzer(fuzz_resp_reply SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/resp_reply_fuzz.cc DEPS chorus_resp)
