# doc_blocks: the programs README.md and docs/getting-started.md show are byte for byte the
# files in examples/ and bindings/ that .ci/consumers.sh builds and runs (tests/doc_blocks.sh).
add_test(NAME doc_blocks COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/doc_blocks.sh ${PROJECT_SOURCE_DIR})
