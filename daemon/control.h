/* SPDX-License-Identifier: MIT */
#ifndef GSVM_CONTROL_H
#define GSVM_CONTROL_H

struct gsvmd;
struct control;

int control_listen(struct gsvmd *d, const char *path, int fd, struct control **out);
void control_close(struct control *c);

#endif
