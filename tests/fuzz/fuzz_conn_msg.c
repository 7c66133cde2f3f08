/* fuzz_conn_msg.c - fuzz_conn over a message transport (link_mem_msg_ops:
 * the rules of SRT and the udp link); see fuzz_conn.c. */
#define FUZZ_CONN_MESSAGES 1
#include "fuzz_conn.c"
