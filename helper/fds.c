/* Arrays of owned fds: what an export hands to the server, and the server to the peer. */
#include <unistd.h>

#include "helper.h"

void helper_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
}
