/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pipewire/pipewire.h>

#include "portal-chooser.h"

PW_LOG_TOPIC_STATIC(chooser_topic, "kmscast.portal");
#define PW_LOG_TOPIC_DEFAULT chooser_topic

/* After the child closes stdout, how often we look for its exit status. */
#define CHOOSER_REAP_MS 20
#define CHOOSER_KILL_MS 100

extern char **environ;

struct portal_chooser {
	struct pw_loop *loop;
	pid_t pid; /* -1 once reaped */
	int out_fd; /* owned: read end of the child's stdout; -1 after EOF */
	struct spa_source *out_io; /* owned while out_fd is open */
	struct spa_source *reap_timer; /* owned */
	char output[PORTAL_CHOOSER_MAX_OUTPUT + 1];
	size_t len;
	int res; /* first error while reading */
	int status; /* wait status once reaped */
	bool done; /* callback delivered */
	portal_chooser_done callback;
	void *data;
};

static void finish(struct portal_chooser *c, int status)
{
	struct portal_chooser_result result = {.res = c->res, .status = status};

	if (result.res == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		/* Exit 1 is the user's "no"; anything else means no answer could be had. */
		result.res = WIFEXITED(status) && WEXITSTATUS(status) == 1 ? -ECANCELED : -ECHILD;
	}
	c->output[c->len] = '\0';
	if (result.res == 0) {
		result.output = c->output;
		result.len = c->len;
	}
	c->done = true;
	c->callback(c->data, &result);
}

void portal_chooser_describe(const struct portal_chooser_result *result, char *buf,
		size_t size)
{
	int status = result->status;

	if (result->res == -ECHILD && WIFSIGNALED(status)) {
		snprintf(buf, size, "was killed by signal %d", WTERMSIG(status));
	} else if (result->res == -ECHILD || result->res == -ECANCELED || result->res == 0) {
		snprintf(buf, size, "exited %d%s", WEXITSTATUS(status),
				WEXITSTATUS(status) == 127 ? " (command not found)" : "");
	} else {
		snprintf(buf, size, "failed: %s", strerror(-result->res));
	}
}

static void try_reap(struct portal_chooser *c)
{
	struct timespec value = {0, CHOOSER_REAP_MS * 1000000L};
	int status;
	pid_t r = waitpid(c->pid, &status, WNOHANG);

	if (r == 0) {
		pw_loop_update_timer(c->loop, c->reap_timer, &value, NULL, false);
		return;
	}
	if (r < 0) {
		c->res = c->res ? c->res : -errno;
		status = 0;
	}
	c->pid = -1;
	finish(c, status);
}

static void on_reap_timer(void *data, uint64_t expirations)
{
	try_reap(data);
}

static void close_output(struct portal_chooser *c)
{
	if (c->out_io) {
		pw_loop_destroy_source(c->loop, c->out_io);
		c->out_io = NULL;
	}
	if (c->out_fd >= 0) {
		close(c->out_fd);
		c->out_fd = -1;
	}
}

static void on_output(void *data, int fd, uint32_t mask)
{
	struct portal_chooser *c = data;
	ssize_t n;

	n = read(fd, c->output + c->len, sizeof(c->output) - 1 - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		return;
	}
	if (n > 0) {
		c->len += (size_t)n;
		if (c->len < sizeof(c->output) - 1) {
			return;
		}
		pw_log_warn("chooser printed more than %d bytes; ignoring it",
				PORTAL_CHOOSER_MAX_OUTPUT);
		c->res = -E2BIG;
		kill(-c->pid, SIGTERM);
	} else if (n < 0) {
		c->res = -errno;
	}
	/* EOF (or an error): the answer is complete once the child has exited. */
	close_output(c);
	try_reap(c);
}

static bool env_replaced(const char *entry, const char *const *env)
{
	for (size_t i = 0; env && env[i]; i++) {
		size_t name_len = strcspn(env[i], "=");

		if (!strncmp(entry, env[i], name_len) && entry[name_len] == '=') {
			return true;
		}
	}
	return false;
}

/* The daemon's environment (it carries WAYLAND_DISPLAY, DISPLAY) with env on top. */
static char **child_env(const char *const *env)
{
	size_t n_own = 0, n_env = 0, n = 0;
	char **out;

	while (environ[n_own]) {
		n_own++;
	}
	while (env && env[n_env]) {
		n_env++;
	}
	if (n_env > PORTAL_CHOOSER_MAX_ENV) {
		errno = E2BIG;
		return NULL;
	}
	out = calloc(n_own + n_env + 1, sizeof(*out));
	if (!out) {
		return NULL;
	}
	for (size_t i = 0; i < n_own; i++) {
		if (!env_replaced(environ[i], env)) {
			out[n++] = environ[i];
		}
	}
	for (size_t i = 0; i < n_env; i++) {
		out[n++] = (char *)env[i];
	}
	return out; /* the array is the caller's; the strings stay environ's and env's */
}

static int spawn(struct portal_chooser *c, const struct portal_chooser_command *cmd,
		int in_fd, int out_fd)
{
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	char *sh_argv[] = {"sh", "-c", (char *)cmd->shell, NULL};
	char *direct_argv[] = {(char *)cmd->path, NULL};
	char **envp = child_env(cmd->env);
	int res;

	if (!envp) {
		return -errno;
	}
	if ((res = posix_spawnattr_init(&attr)) != 0) {
		goto free_env;
	}
	/* Its own process group, so that cancelling reaches what sh started too. */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	if ((res = posix_spawn_file_actions_init(&actions)) != 0) {
		goto destroy_attr;
	}
	/* dup2 clears FD_CLOEXEC on 0 and 1; every other fd of ours is O_CLOEXEC. */
	res = posix_spawn_file_actions_adddup2(&actions, in_fd, STDIN_FILENO);
	if (res == 0) {
		res = posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
	}
	/* glibc's posix_spawn reports a failed exec (ENOENT, EACCES) as its result. */
	if (res == 0 && cmd->shell) {
		res = posix_spawn(&c->pid, "/bin/sh", &actions, &attr, sh_argv, envp);
	} else if (res == 0) {
		res = posix_spawn(&c->pid, cmd->path, &actions, &attr, direct_argv, envp);
	}
	posix_spawn_file_actions_destroy(&actions);
destroy_attr:
	posix_spawnattr_destroy(&attr);
free_env:
	free(envp);
	return -res;
}

static int write_input(int fd, const char *input, size_t len)
{
	ssize_t n = write(fd, input, len);

	if (n < 0) {
		return -errno;
	}
	/* The list is a few lines and the pipe holds 64 KiB; a short write means it did not fit. */
	return (size_t)n == len ? 0 : -E2BIG;
}

int portal_chooser_start(struct pw_loop *loop, const struct portal_chooser_command *cmd,
		const char *input, size_t len, portal_chooser_done done, void *data,
		struct portal_chooser **out)
{
	struct portal_chooser *c;
	int in_pipe[2], out_pipe[2];
	int res;

	PW_LOG_TOPIC_INIT(chooser_topic);
	c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	c->loop = loop;
	c->pid = -1;
	c->out_fd = -1;
	c->callback = done;
	c->data = data;
	if (pipe2(in_pipe, O_CLOEXEC) < 0) {
		res = -errno;
		goto err_free;
	}
	if (pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		res = -errno;
		goto err_close_in;
	}
	/* The child's end of stdout must block, or a chooser's printf could fail with EAGAIN. */
	fcntl(out_pipe[1], F_SETFL, 0);
	c->reap_timer = pw_loop_add_timer(loop, on_reap_timer, c);
	if (!c->reap_timer) {
		res = -errno;
		goto err_close_out;
	}
	if ((res = spawn(c, cmd, in_pipe[0], out_pipe[1])) < 0) {
		pw_log_debug("cannot run '%s': %s", cmd->shell ? cmd->shell : cmd->path,
				strerror(-res));
		goto err_close_out;
	}
	close(in_pipe[0]);
	close(out_pipe[1]);
	fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
	res = write_input(in_pipe[1], input, len);
	close(in_pipe[1]);
	c->out_fd = out_pipe[0]; /* now owned by c */
	/* A chooser may answer without reading the list, and exit first: its answer counts. */
	if (res < 0 && res != -EPIPE) {
		pw_log_warn("chooser: cannot write the monitor list: %s", strerror(-res));
		c->res = res;
	}
	c->out_io = pw_loop_add_io(loop, c->out_fd, SPA_IO_IN | SPA_IO_HUP, false, on_output, c);
	if (!c->out_io) {
		res = -errno;
		portal_chooser_destroy(c);
		return res;
	}
	pw_log_info("chooser started: pid %d", (int)c->pid);
	*out = c;
	return 0;

err_close_out:
	close(out_pipe[0]);
	close(out_pipe[1]);
err_close_in:
	close(in_pipe[0]);
	close(in_pipe[1]);
err_free:
	if (c->reap_timer) {
		pw_loop_destroy_source(loop, c->reap_timer);
	}
	free(c);
	return res;
}

/* A cancelled chooser gets CHOOSER_KILL_MS to go after SIGTERM, then SIGKILL: no zombie. */
static void kill_and_reap(pid_t pid)
{
	kill(-pid, SIGTERM);
	for (int i = 0; i < CHOOSER_KILL_MS; i++) {
		if (waitpid(pid, NULL, WNOHANG) != 0) {
			return;
		}
		usleep(1000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

void portal_chooser_destroy(struct portal_chooser *c)
{
	if (!c) {
		return;
	}
	close_output(c);
	if (c->pid > 0) {
		kill_and_reap(c->pid);
	}
	if (c->reap_timer) {
		pw_loop_destroy_source(c->loop, c->reap_timer);
	}
	free(c);
}
