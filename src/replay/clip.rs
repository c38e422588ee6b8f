//! The clip job's pure parts: concat list, ffmpeg/ffprobe argv, progress parser.
//! CONTRACT STUB — to be implemented.
