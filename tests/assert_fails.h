/* assert_fails.h -- the cmocka check that a call fails the library's way: with the expected
 * status and a message in seqvid_last_error(). Shared by the C unit tests; include after
 * <cmocka.h> and error.h. */
#ifndef SV_TEST_ASSERT_FAILS_H
#define SV_TEST_ASSERT_FAILS_H

/* Empty the calling thread's last-error message (so a message seen afterwards is new). */
static inline void clear_error(void) { sv_fail(SEQVID_OK, "%s", ""); }

/* The call failed with `want` and left a message. */
#define assert_fails(call, want)                                                             \
    do {                                                                                     \
        clear_error();                                                                       \
        assert_int_equal((call), (want));                                                    \
        assert_true(seqvid_last_error()[0] != '\0');                                         \
    } while (0)
#endif
