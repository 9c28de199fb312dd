/*
 * main.c -- `seqvid`: the command-line face of libseqvid.
 *
 *   seqvid train [options]            train on Moving MNIST, a .npy file or video
 *   seqvid predict|eval|encode MODEL  use a trained model
 *   seqvid info FILE...               describe models, checkpoints, .npy and video files
 *
 * Ordinary user code on the public header <seqvid.h>: the library computes, this program
 * talks (messages, progress, pictures) and exits.
 */
#include "commands.h"

#include "../support/cli.h"

#include <stdlib.h>
#include <string.h>

#ifdef SEQVID_HAVE_VIDEO
#include <seqvid_video.h>
#endif

#include "help.h" /* help_<name>[]: help/<name>.txt, embedded at build time */

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"train", cmd_train, help_train},   {"predict", cmd_predict, help_predict},
    {"eval", cmd_eval, help_eval},      {"encode", cmd_encode, help_encode},
    {"info", cmd_info, help_info},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

const char *command_help(const char *name)
{
    for (int i = 0; name && i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name)) return commands[i].help;
    return help_seqvid;
}

void command_usage(FILE *f, const char *name)
{
    fputs(command_help(name), f);
    fflush(f);
}

int main(int argc, char **argv)
{
    ex_progname = "seqvid";
    ex_blas_restart(argv);
    ex_log_init();
    if (argc < 2) {
        command_usage(stderr, NULL);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        command_usage(stdout, NULL);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("seqvid (libseqvid %s; built against the header of %s)\n",
               seqvid_version_string(), SEQVID_VERSION_STRING);
        printf("products: %s\n", ex_blas_describe());
#ifdef SEQVID_HAVE_VIDEO
        printf("video: libseqvid_video, %s\n", seqvid_video_ffmpeg_version());
#else
        printf("video: none (built without libseqvid_video)\n");
#endif
        return 0;
    }
    if (!strcmp(cmd, "help")) {
        command_usage(stdout, argc > 2 ? argv[2] : NULL);
        return 0;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(cmd, commands[i].name)) {
            static char progname[64];
            snprintf(progname, sizeof progname, "seqvid %s", cmd);
            ex_progname = progname;
            argv[1] = progname; /* getopt's own messages name the subcommand too */
            return commands[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "seqvid: '%s' is not a command (train, predict, eval, encode, info; "
            "see seqvid --help)\n", cmd);
    return 2;
}
