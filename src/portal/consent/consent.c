/* SPDX-License-Identifier: MIT */
/*
 * kmscast-consent: the dialog that asks the user before the portal shares a screen. The
 * daemon runs it for every SelectSources (docs/usage.md, "Consent"): the monitors offered
 * on stdin, the request in KMSCAST_APP_ID, KMSCAST_MULTIPLE and KMSCAST_PERSIST. It prints
 * the chosen monitors (and "remember") and exits 0, exits 1 when the user cancels or closes
 * the window, and exits 3 when it cannot ask: bad input, or no display GTK can open. A
 * separate program so that the daemon never links GTK.
 *
 * Every widget has an accessible name: screen readers need them, and the consent test
 * drives this dialog through AT-SPI by those names (tests/tools/consent-drive.py).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gtk/gtk.h>

#include "consent-input.h"

enum consent_exit {
	CONSENT_EXIT_SHARED = 0,
	CONSENT_EXIT_CANCELLED = 1,
	CONSENT_EXIT_ERROR = 3,
};

#define CONSENT_APP_ID PORTAL_BUS_NAME ".Consent"
#define CONSENT_TITLE "Share your screen?"
#define CONSENT_UNNAMED_APP "An application on this computer"

struct consent_dialog {
	const struct consent_request *req;
	GtkWidget *window;
	GtkWidget *rows[CONSENT_MAX_MONITORS]; /* check buttons, one per req->monitors[i] */
	GtkWidget *remember; /* NULL unless the app may persist the choice */
	GtkWidget *share;
	enum consent_exit status; /* CANCELLED until Share succeeds */
};

/* The name an AT reads (and the consent test finds the widget by), and what it does. */
static void set_accessible(GtkWidget *widget, const char *label, const char *description)
{
	gtk_accessible_update_property(GTK_ACCESSIBLE(widget), GTK_ACCESSIBLE_PROPERTY_LABEL, label,
			GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, description, -1);
}

static void on_click_action(GSimpleAction *action, GVariant *parameter, gpointer data)
{
	gtk_widget_activate(GTK_WIDGET(data));
}

/*
 * GTK 4.8 gives a check button no AT-SPI action (buttons get "click", switches "toggle"), so
 * a screen reader could read the rows but not tick one. It does list the actions of a
 * widget's own action group: "check.click" does what a click does.
 */
static void add_click_action(GtkWidget *check)
{
	GSimpleActionGroup *group = g_simple_action_group_new();
	GSimpleAction *click = g_simple_action_new("click", NULL);

	g_signal_connect(click, "activate", G_CALLBACK(on_click_action), check);
	g_action_map_add_action(G_ACTION_MAP(group), G_ACTION(click));
	/* The widget holds the group, the group the action: both live as long as check. */
	gtk_widget_insert_action_group(check, "check", G_ACTION_GROUP(group));
	g_object_unref(click);
	g_object_unref(group);
}

static bool any_row_chosen(const struct consent_dialog *d)
{
	for (size_t i = 0; i < d->req->n_monitors; i++) {
		if (gtk_check_button_get_active(GTK_CHECK_BUTTON(d->rows[i]))) {
			return true;
		}
	}
	return false;
}

/* Prints the answer. Returns 0, or -errno when stdout would not take it. */
static int write_answer(const struct consent_dialog *d)
{
	GString *out = g_string_new(NULL);
	int res = 0;

	for (size_t i = 0; i < d->req->n_monitors; i++) {
		if (gtk_check_button_get_active(GTK_CHECK_BUTTON(d->rows[i]))) {
			g_string_append_printf(out, "%s\n", d->req->monitors[i].id);
		}
	}
	if (d->remember && gtk_check_button_get_active(GTK_CHECK_BUTTON(d->remember))) {
		g_string_append(out, "remember\n");
	}
	if (fwrite(out->str, 1, out->len, stdout) != out->len || fflush(stdout) != 0) {
		res = -errno;
	}
	g_string_free(out, TRUE);
	return res;
}

static void on_share(GtkButton *button, gpointer data)
{
	struct consent_dialog *d = data;
	int res;

	if (!any_row_chosen(d)) {
		return;
	}
	res = write_answer(d);
	if (res < 0) {
		fprintf(stderr, "kmscast-consent: cannot write the answer: %s\n", strerror(-res));
	}
	d->status = res < 0 ? CONSENT_EXIT_ERROR : CONSENT_EXIT_SHARED;
	gtk_window_destroy(GTK_WINDOW(d->window));
}

static void on_cancel(GtkButton *button, gpointer data)
{
	struct consent_dialog *d = data;

	gtk_window_destroy(GTK_WINDOW(d->window));
}

/* With several monitors allowed, Share needs at least one ticked. */
static void on_row_toggled(GtkCheckButton *row, gpointer data)
{
	struct consent_dialog *d = data;

	gtk_widget_set_sensitive(d->share, any_row_chosen(d));
}

static GtkWidget *make_label(const char *text, const char *css_class)
{
	GtkWidget *label = gtk_label_new(text);

	gtk_label_set_wrap(GTK_LABEL(label), TRUE);
	gtk_label_set_max_width_chars(GTK_LABEL(label), 50);
	gtk_label_set_xalign(GTK_LABEL(label), 0.0f);
	if (css_class) {
		gtk_widget_add_css_class(label, css_class);
	}
	return label;
}

/* "Dell U2415 1920x1200 (card0:HDMI-A-1)", or the id alone without a description. */
static GtkWidget *make_row(struct consent_dialog *d, size_t i, GtkCheckButton *group)
{
	const struct consent_monitor *m = &d->req->monitors[i];
	char *text = m->description[0] ? g_strdup_printf("%s (%s)", m->description, m->id)
				       : g_strdup(m->id);
	GtkWidget *row = gtk_check_button_new_with_label(text);

	set_accessible(row, text, "Monitor to share");
	add_click_action(row);
	g_free(text);
	/* A group makes the rows radio buttons: exactly one monitor when the app wants one. */
	if (group) {
		gtk_check_button_set_group(GTK_CHECK_BUTTON(row), group);
	}
	gtk_check_button_set_active(GTK_CHECK_BUTTON(row), i == 0);
	g_signal_connect(row, "toggled", G_CALLBACK(on_row_toggled), d);
	return row;
}

static GtkWidget *make_monitor_list(struct consent_dialog *d)
{
	GtkWidget *list = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);

	set_accessible(list, "Monitors", d->req->multiple ? "Choose one or more" : "Choose one");
	for (size_t i = 0; i < d->req->n_monitors; i++) {
		GtkCheckButton *group = d->req->multiple || i == 0 ? NULL
								    : GTK_CHECK_BUTTON(d->rows[0]);

		d->rows[i] = make_row(d, i, group);
		gtk_box_append(GTK_BOX(list), d->rows[i]);
	}
	return list;
}

static GtkWidget *make_remember(const struct consent_request *req)
{
	GtkWidget *check = gtk_check_button_new_with_label("Remember for this app");

	/* persist_mode 1 keeps the choice while the app runs, 2 until the user revokes it. */
	set_accessible(check, "Remember for this app",
			req->persist == 1 ? "Share the same monitors again while the app runs"
					  : "Share the same monitors again without asking");
	add_click_action(check);
	return check;
}

static GtkWidget *make_buttons(struct consent_dialog *d)
{
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
	GtkWidget *cancel = gtk_button_new_with_label("Cancel");

	d->share = gtk_button_new_with_label("Share");
	set_accessible(cancel, "Cancel", "Do not share the screen");
	set_accessible(d->share, "Share", "Share the chosen monitors with the app");
	gtk_widget_add_css_class(d->share, "suggested-action");
	gtk_widget_set_halign(box, GTK_ALIGN_END);
	g_signal_connect(cancel, "clicked", G_CALLBACK(on_cancel), d);
	g_signal_connect(d->share, "clicked", G_CALLBACK(on_share), d);
	gtk_box_append(GTK_BOX(box), cancel);
	gtk_box_append(GTK_BOX(box), d->share);
	return box;
}

static GtkWidget *make_content(struct consent_dialog *d)
{
	const struct consent_request *req = d->req;
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12);
	char *prompt;

	gtk_widget_set_margin_top(box, 18);
	gtk_widget_set_margin_bottom(box, 18);
	gtk_widget_set_margin_start(box, 18);
	gtk_widget_set_margin_end(box, 18);
	gtk_box_append(GTK_BOX(box), make_label(CONSENT_TITLE, "title-2"));
	/* Quoted: the id is the app's own claim, not a name the user picked. */
	prompt = req->app_id[0] ? g_strdup_printf("“%s” wants to see your screen.", req->app_id)
				: g_strdup(CONSENT_UNNAMED_APP " wants to see your screen.");
	gtk_box_append(GTK_BOX(box), make_label(prompt, NULL));
	g_free(prompt);
	gtk_box_append(GTK_BOX(box), make_monitor_list(d));
	if (req->persist > 0) {
		d->remember = make_remember(req);
		gtk_box_append(GTK_BOX(box), d->remember);
	}
	gtk_box_append(GTK_BOX(box), make_buttons(d));
	return box;
}

static void on_activate(GApplication *app, gpointer data)
{
	struct consent_dialog *d = data;
	GtkEventController *keys = gtk_shortcut_controller_new();

	d->window = gtk_application_window_new(GTK_APPLICATION(app));
	gtk_window_set_title(GTK_WINDOW(d->window), CONSENT_TITLE);
	gtk_window_set_resizable(GTK_WINDOW(d->window), FALSE);
	/* Escape closes, and closing is Cancel: status stays CONSENT_EXIT_CANCELLED. */
	gtk_shortcut_controller_add_shortcut(GTK_SHORTCUT_CONTROLLER(keys),
			gtk_shortcut_new(gtk_keyval_trigger_new(GDK_KEY_Escape, 0),
					gtk_named_action_new("window.close")));
	gtk_widget_add_controller(d->window, keys);
	gtk_window_set_child(GTK_WINDOW(d->window), make_content(d));
	/* No default widget: a keystroke meant for the app must not press Share. */
	gtk_widget_grab_focus(d->rows[0]);
	gtk_window_present(GTK_WINDOW(d->window));
}

/* stdin and the environment into req. Returns 0, or -errno with the reason printed. */
static int read_request(struct consent_request *req)
{
	static char input[CONSENT_MAX_INPUT + 1];
	char err[CONSENT_MAX_ERROR];
	long len = consent_read_input(STDIN_FILENO, input, sizeof(input));
	int res;

	if (len < 0) {
		fprintf(stderr, "kmscast-consent: cannot read the monitor list: %s\n",
				len == -EFBIG ? "more than 64 KiB" : strerror((int)-len));
		return (int)len;
	}
	res = consent_parse_monitors(req, input, (size_t)len, err, sizeof(err));
	if (res == 0) {
		res = consent_parse_env(req, g_getenv("KMSCAST_APP_ID"),
				g_getenv("KMSCAST_MULTIPLE"), g_getenv("KMSCAST_PERSIST"), err,
				sizeof(err));
	}
	if (res < 0) {
		fprintf(stderr, "kmscast-consent: %s\n", err);
	}
	return res;
}

static const char *display_name(void)
{
	const char *name = g_getenv("WAYLAND_DISPLAY");

	if (!name || !name[0]) {
		name = g_getenv("DISPLAY");
	}
	return name && name[0] ? name : NULL;
}

int main(int argc, char **argv)
{
	static struct consent_request req;
	struct consent_dialog dialog = {.req = &req, .status = CONSENT_EXIT_CANCELLED};
	GtkApplication *app;
	GError *error = NULL;
	int status;

	if (read_request(&req) < 0) {
		return CONSENT_EXIT_ERROR;
	}
	/*
	 * Before GtkApplication: its startup calls gtk_init(), which exits 1 without a display,
	 * and 1 means the user said no.
	 */
	if (!gtk_init_check()) {
		fprintf(stderr, "kmscast-consent: cannot open display %s\n",
				display_name() ? display_name() : "(WAYLAND_DISPLAY and DISPLAY unset)");
		return CONSENT_EXIT_ERROR;
	}
	/* Non-unique: two portal sessions may ask at once, each with its own dialog. */
	app = gtk_application_new(CONSENT_APP_ID, G_APPLICATION_NON_UNIQUE);
	g_signal_connect(app, "activate", G_CALLBACK(on_activate), &dialog);
	if (!g_application_register(G_APPLICATION(app), NULL, &error)) {
		fprintf(stderr, "kmscast-consent: %s\n", error->message);
		g_error_free(error);
		g_object_unref(app);
		return CONSENT_EXIT_ERROR;
	}
	/* The command line is ours to ignore: everything comes on stdin and in the environment. */
	status = g_application_run(G_APPLICATION(app), 1, argv);
	g_object_unref(app);
	return status == 0 ? (int)dialog.status : CONSENT_EXIT_ERROR;
}
