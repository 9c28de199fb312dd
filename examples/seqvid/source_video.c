/*
 * source_video.c -- video files through libseqvid_video (FFmpeg). Built when the library
 * is available; without it, --video explains how to get it.
 */
#include "source.h"

#ifndef SEQVID_HAVE_VIDEO
source *source_open_video(const source_options *o, int purpose)
{
    (void)purpose;
    ex_die("--video %s: this seqvid was built without libseqvid_video (FFmpeg); install "
           "libavformat-dev libavcodec-dev libswscale-dev libavutil-dev and rebuild",
           o->video);
}
#endif
