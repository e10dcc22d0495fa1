# PID 1 of every sandbox (DESIGN.md, "Launch chain"). unshare starts it in the fresh
# namespaces with the namespace's capabilities; test code never runs in this process.
#
#   1. reads its part of the configuration on the status fd (host/init-config.ts), joins
#      the sandbox's cgroups and roots a cgroup namespace there;
#   2. makes itself non-dumpable (PID 2 cannot ptrace it or take its fds), forks PID 2,
#      reports `started`; PID 2 drops every capability (not with `root`) and
#      sets no_new_privs, then execs the sandbox's Node from the host's tree: every
#      thread that Node starts has the empty sets, so no thread of the test's process
#      ever held the namespace's capabilities;
#   3. meanwhile builds the sandbox's tree (the mount plan), sets the hostname and brings
#      lo up; once that Node has booted (it says so on the sync socket), pivot_roots into
#      the tree, which moves that Node's root too, drops its own capabilities and answers
#      with its phase times; the Node then goes on in the new root;
#   4. waits for PID 2 in the foreground, reaping orphans, optionally lists leftover
#      processes and sockets (a report), writes `init-exit` (PID 2's exact status) and
#      exits with it as a shell would (128+N for signal N), which ends the PID namespace.
#
# No modules, not even strict (0.8 ms of every start here; perl -c checks it with strict
# and warnings in the tests): every system call is made by number.
# Usage: perl -f init.pl STATUS_FD NODE [NODE_ARGS...] BOOTSTRAP

my %SYS = (
  x64 => { mount => 165, umount2 => 166, pivot_root => 155, sethostname => 170, unshare => 272,
           capset => 126, prctl => 157, faccessat => 269, clock_gettime => 228, mount_setattr => 442, statx => 332,
           shmctl => 31, semctl => 66, msgctl => 71 },
  arm64 => { mount => 40, umount2 => 39, pivot_root => 41, sethostname => 161, unshare => 97,
             capset => 91, prctl => 167, faccessat => 48, clock_gettime => 113, mount_setattr => 442, statx => 291,
             shmctl => 195, semctl => 191, msgctl => 187 }
);
my %MS = (RDONLY => 0x1, NOSUID => 0x2, NODEV => 0x4, NOEXEC => 0x8, REMOUNT => 0x20, BIND => 0x1000, MOVE => 0x2000, REC => 0x4000);
my %ERRNO = (1 => 'EPERM', 2 => 'ENOENT', 12 => 'ENOMEM', 13 => 'EACCES', 16 => 'EBUSY', 17 => 'EEXIST',
  19 => 'ENODEV', 20 => 'ENOTDIR', 22 => 'EINVAL', 28 => 'ENOSPC', 30 => 'EROFS', 36 => 'ENAMETOOLONG',
  38 => 'ENOSYS', 40 => 'ELOOP', 95 => 'EOPNOTSUPP');
my $SETUP_FAILED = 125; # SETUP_FAILED_STATUS in protocol.ts

# perl marks every fd it opens above $^F close-on-exec, fdopen'ed ones included: the
# status fd and PID 2's end of the sync socket must reach Node.
$^F = 1023;
my ($status_fd, @node_command) = @ARGV;
# /proc/1/cmdline: how a sandboxed process tells that it runs under this init (jest-env's check).
$0 = 'ns-sandbox-init';
open(my $status, '+<&=', $status_fd) or exit $SETUP_FAILED;
my $sys;

sub json_string {
  my ($text) = @_;
  $text =~ s/(["\\])/\\$1/g;
  $text =~ s/([\x00-\x1f])/sprintf('\\u%04x', ord($1))/ge;
  return "\"$text\"";
}

sub send_status { my ($line) = @_; syswrite($status, "$line\n") }

sub now_ms {
  my $timespec = "\0" x 16;
  syscall($sys->{clock_gettime}, 1, $timespec);
  my ($seconds, $nanoseconds) = unpack('q q', $timespec);
  return $seconds * 1000 + $nanoseconds / 1e6;
}

# A failed system call, worded as the bootstrap's SyscallError words it.
sub syscall_error {
  my ($call, $subject, $errno) = @_;
  local $! = $errno;
  my $name = $ERRNO{$errno} // "errno $errno";
  return { errno => $name, message => "$call($subject) failed: $name ($!)" };
}

sub check {
  my ($result, $call, $subject) = @_;
  die syscall_error($call, $subject, $! + 0) if $result < 0;
}

sub fail {
  my ($code, $message, @details) = @_;
  send_status('{"type":"error","code":' . json_string($code) . ',"message":' . json_string($message)
    . ',"details":[' . join(',', map { json_string($_) } @details) . ']}');
  exit $SETUP_FAILED;
}

sub read_exactly {
  my ($length) = @_;
  my $buffer = '';
  while (length($buffer) < $length) {
    my $got = sysread($status, $buffer, $length - length($buffer), length($buffer));
    fail('NSB_SETUP_FAILED', 'the sandbox configuration ended early') unless $got;
  }
  return $buffer;
}

# The configuration: a 10-digit length, then NUL-terminated tokens (host/init-config.ts).
my @tokens = split(/\0/, read_exactly(read_exactly(10) + 0), -1);
pop @tokens;
my (%config, @cgroup_procs, @restore_env, @plan);
my %STEP_FIELDS = (mkdir => 2, file => 1, symlink => 2, tmpfs => 4, overlay => 4, bind => 3, proc => 1, devpts => 1, sysfs => 2);
while (@tokens) {
  my $key = shift @tokens;
  if ($key eq 'cgroup') { push @cgroup_procs, shift @tokens }
  elsif ($key eq 'env') { push @restore_env, [splice(@tokens, 0, 2)] }
  elsif ($key eq 'step') {
    my $op = shift @tokens;
    push @plan, [$op, splice(@tokens, 0, $STEP_FIELDS{$op} // fail('NSB_SETUP_FAILED', "unknown mount step $op"))];
  } else { $config{$key} = shift @tokens }
}
$sys = $SYS{$config{arch}} or fail('NSB_SETUP_FAILED', "unsupported architecture $config{arch}");
# Not ptraceable by PID 2 (same uid): its fds (the status pipe) and memory stay out of the
# test's reach (/proc/1/fd, pidfd_getfd, process_vm_writev). The fork below inherits it
# until PID 2's exec. With `root`, PID 2 keeps CAP_SYS_PTRACE in the namespace, which
# overrides this: DESIGN.md, "The status channel".
syscall($sys->{prctl}, 4, 0, 0, 0, 0) == 0 or fail('NSB_SETUP_FAILED', "prctl(PR_SET_DUMPABLE, 0) failed: $!"); # PR_SET_DUMPABLE

sub prctl { my ($option, $arg) = @_; check(syscall($sys->{prctl}, $option, $arg, 0, 0, 0), 'prctl', $_[2]) }

# Ambient, bounding, then effective, permitted and inheritable: the calling process ends with none.
sub drop_capabilities {
  prctl(47, 4, 'PR_CAP_AMBIENT_CLEAR_ALL');
  prctl(24, $_, "PR_CAPBSET_DROP $_") for 0 .. $config{lastcap};
  my $header = pack('LL', 0x20080522, 0);
  my $data = pack('L6', 0, 0, 0, 0, 0, 0);
  check(syscall($sys->{capset}, $header, $data), 'capset', 'all sets empty');
}

sub no_new_privs { prctl(38, 1, 'PR_SET_NO_NEW_PRIVS') }

# --- 1. cgroups
my $started_at = now_ms();
my %phases;
sub phase { my ($name) = @_; my $at = now_ms(); $phases{$name} = int(($at - $started_at) * 100 + 0.5) / 100; $started_at = $at }

eval {
  for my $procs (@cgroup_procs) {
    open(my $file, '>', $procs) or die syscall_error('open', $procs, $! + 0);
    syswrite($file, '0') or die syscall_error('write', $procs, $! + 0);
    close($file);
  }
  # unshare's cgroup namespace is rooted at the launcher's cgroup; a nested one makes the
  # sandbox's own cgroup "/" for everything that runs next.
  check(syscall($sys->{unshare}, 0x02000000), 'unshare', 'CLONE_NEWCGROUP') if @cgroup_procs;
  1;
} or fail('NSB_SETUP_FAILED', "cannot join the sandbox's cgroup: " . (ref($@) ? $@->{message} : $@));
phase('cgroups');

# --- 2. PID 2
socketpair(my $sync, my $sync_for_node, 1, 1, 0) or fail('NSB_SETUP_FAILED', "socketpair: $!");
my $command_pid = fork();
fail('NSB_SETUP_FAILED', "fork: $!") unless defined $command_pid;
if ($command_pid == 0) {
  close($sync);
  eval {
    drop_capabilities() unless $config{caps} eq 'keep';
    no_new_privs();
    1;
  } or fail('NSB_SETUP_FAILED', 'cannot drop privileges: ' . (ref($@) ? $@->{message} : $@));
  # The OOM killer must pick the command, never this init: with memory held by tmpfs
  # pages and small processes, the init was the biggest task of the cgroup, and its
  # SIGKILL made unshare (util-linux 2.38) exit 1 with "sigprocmask unblock failed".
  # Raising the score needs no privilege, but entering the user namespace made this
  # process non-dumpable, which gives its /proc files to root: dumpable again first (the
  # exec below makes it dumpable anyway). Best effort: the kill would still be reported.
  if (eval { prctl(4, 1, 'PR_SET_DUMPABLE'); 1 } && open(my $adj, '>', '/proc/self/oom_score_adj')) { syswrite($adj, '1000'); close($adj) }
  for my $entry (@restore_env) {
    my ($name, $value) = @$entry;
    if ($value eq '-') { delete $ENV{$name} } else { $ENV{$name} = substr($value, 1) }
  }
  # Node boots from the host's tree; its root moves with the pivot_root, its cwd would not.
  chdir('/');
  { exec { $node_command[0] } @node_command, $status_fd, fileno($sync_for_node) }
  fail('NSB_SETUP_FAILED', "cannot start $node_command[0] in the sandbox: $!");
}
close($sync_for_node);
# No pids: the host finds this process and PID 2 in its own /proc (host/sandbox-pids.ts).
send_status('{"type":"started"}');

# --- 3. the sandbox's tree, while that Node boots
# syscall() passes a string argument as a pointer and needs it writable: copies, never literals.
sub mount_call {
  my ($source, $target, $type, $flags, $data) = @_;
  check(syscall($sys->{mount}, $source // 0, $target, $type // 0, $flags, $data // 0), 'mount', ($type // $source) . " on $target");
}

# Read-only for a mount and every mount below it (mount_setattr, Linux >= 5.12).
sub make_read_only_recursive {
  my ($path) = @_;
  my $attr = pack('Q4', 1, 0, 0, 0);
  check(syscall($sys->{mount_setattr}, -100, $path, 0x8000, $attr, 32), 'mount_setattr', $path);
}

sub parent_of { my ($path) = @_; $path =~ s{/[^/]*\z}{}; return $path eq '' ? '/' : $path }

# mkdir -p: the plan creates parents first, so this is one call per directory.
sub make_directories {
  my ($dir) = @_;
  return if mkdir($dir, 0777);
  my $errno = $! + 0;
  if ($errno == 2 && $dir ne '/') {
    make_directories(parent_of($dir));
    return if mkdir($dir, 0777);
    $errno = $! + 0;
  }
  if ($errno == 17) {
    die { message => "$dir exists and is not a directory" } unless -d $dir;
    return;
  }
  die syscall_error('mkdir', $dir, $errno);
}

# An empty file to bind onto; an existing file (or directory) is left as it is.
sub create_file {
  my ($file) = @_;
  for my $attempt (1, 2) {
    return if sysopen(my $handle, $file, 0x41 | 0x80 | 0x80000, 0644); # O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC
    my $errno = $! + 0;
    return if $errno == 17;
    die syscall_error('open', $file, $errno) unless $errno == 2 && $attempt == 1;
    make_directories(parent_of($file));
  }
}

# overlayfs options separate layers with ':' and options with ','.
sub escape_overlay_path { my ($path) = @_; $path =~ s/([\\,:])/\\$1/g; return $path }

# An overlay's top directory takes owner and mode from its upper layer, which the caller
# owns. So that /etc or /usr are not writable inside when they are not on the host, the
# upper directory gets the lower's mode, without write bits when the caller cannot write
# the lower (the namespace's capabilities never apply to host inodes of unmapped users).
sub match_lower_permissions {
  my ($lower, $upper) = @_;
  my @info = stat($lower) or die syscall_error('stat', $lower, $! + 0);
  my $mode = $info[2] & 07777;
  $mode &= ~0222 if syscall($sys->{faccessat}, -100, $lower, 2, 0) != 0;
  chmod($mode, $upper) or die syscall_error('chmod', $upper, $! + 0);
}

sub execute_step {
  my ($op, @f) = @{$_[0]};
  if ($op eq 'mkdir') {
    make_directories($f[0]);
    chmod(oct($f[1]), $f[0]) or die syscall_error('chmod', $f[0], $! + 0) if $f[1] ne '';
  } elsif ($op eq 'file') {
    create_file($f[0]);
  } elsif ($op eq 'symlink') {
    symlink($f[0], $f[1]) or die syscall_error('symlink', $f[1], $! + 0);
  } elsif ($op eq 'tmpfs') {
    my $flags = $MS{NOSUID} | $MS{NODEV} | ($f[2] eq '1' ? $MS{RDONLY} | $MS{NOEXEC} : 0);
    mount_call('tmpfs', $f[0], 'tmpfs', $flags, "mode=$f[1],size=$f[3]");
  } elsif ($op eq 'overlay') {
    my ($lower, $upper, $work, $target) = @f;
    make_directories($upper);
    match_lower_permissions($lower, $upper);
    make_directories($work);
    mount_call('overlay', $target, 'overlay', 0, 'lowerdir=' . escape_overlay_path($lower)
      . ',upperdir=' . escape_overlay_path($upper) . ',workdir=' . escape_overlay_path($work) . ',userxattr');
  } elsif ($op eq 'bind') {
    mount_call($f[0], $f[1], undef, $MS{BIND} | $MS{REC}, undef);
    make_read_only_recursive($f[1]) if $f[2] eq '1';
  } elsif ($op eq 'proc') {
    mount_call('proc', $f[0], 'proc', $MS{NOSUID} | $MS{NODEV} | $MS{NOEXEC}, undef);
  } elsif ($op eq 'devpts') {
    mount_call('devpts', $f[0], 'devpts', $MS{NOSUID} | $MS{NOEXEC}, 'newinstance,ptmxmode=0666,mode=620');
  } elsif ($op eq 'sysfs') {
    if ($f[1] eq '1') {
      mount_call('sysfs', $f[0], 'sysfs', $MS{RDONLY} | $MS{NOSUID} | $MS{NODEV} | $MS{NOEXEC}, undef);
    } else {
      mount_call(host_path('/sys'), $f[0], undef, $MS{BIND} | $MS{REC}, undef);
      make_read_only_recursive($f[0]);
    }
  }
}

sub hints_for {
  my ($op, $errno) = @_;
  if ($op eq 'overlay' && $errno eq 'EINVAL') {
    return ('overlayfs in a user namespace needs Linux >= 5.11 and a lower directory without locked submounts; `ns-sandbox doctor` checks this.',
      'Workaround: `readonly: true` (read-only host view) needs no overlayfs.');
  }
  if ($op eq 'proc' && defined $errno) {
    return ('a new /proc cannot be mounted when the host /proc has parts masked (as inside Docker without --privileged); `ns-sandbox doctor` checks this.');
  }
  return ();
}

# The host's tree, for a reset's new tree (its lower layers and bind sources). A bind
# source must be a mount of this namespace (a detached one gives EINVAL), so a resettable
# sandbox keeps the host's tree mounted at HOST_DIR, under an empty read-only cover that
# test code cannot remove (no capability; in a namespace of its own the two are locked
# together), and reaches it through this fd: never inherited (PID 2 is forked already),
# not reachable by test code (this process is not dumpable; a resettable sandbox has no
# `root`).
my $HOST_DIR = '/dev/.ns-sandbox-host';
# Inside the cover (read-only, mode 0000: test code, without capabilities, can neither
# search it nor chmod it), where the next state is built while a file runs.
my $STAGE_DIR = "$HOST_DIR/stage";
my ($host_root, $host_root_fd);
sub host_path { my ($path) = @_; return defined $host_root_fd ? "/proc/self/fd/$host_root_fd$path" : $path }

# A resettable sandbox's overlays, by plan step: the mount (an O_PATH handle, the bind
# source when the next state reuses it), its upper directory (O_PATH) and that directory's
# ctime once mounted. An overlay whose upper directory is still empty and unchanged holds
# exactly what its lower layer shows: the next state binds the same mount instead of a new
# one, and keeps its warm dentry and inode caches (most of a reset's cost, and of the next
# file's first reads, was building them again).
my %overlays;

sub open_path {
  my ($path) = @_;
  sysopen(my $handle, $path, 0x200000 | 0x10000) or die syscall_error('open', "$path (O_PATH)", $! + 0); # O_PATH | O_DIRECTORY
  return $handle;
}

# Nanoseconds: perl's stat() has whole seconds only.
sub ctime_of {
  my ($handle) = @_;
  my $buffer = "\0" x 256;
  check(syscall($sys->{statx}, fileno($handle), my $empty = '', 0x1000, 0x80, $buffer), 'statx', 'an upper layer'); # AT_EMPTY_PATH, STATX_CTIME
  my ($seconds, $nanoseconds) = unpack('x96 q L', $buffer);
  return "$seconds.$nanoseconds";
}

# Nothing was created, copied up, whited out, renamed, chmod-ed or touched through it.
sub overlay_unchanged {
  my ($overlay) = @_;
  opendir(my $upper, '/proc/self/fd/' . fileno($overlay->{upper})) or return 0;
  for my $name (readdir($upper)) { return 0 unless $name eq '.' || $name eq '..' }
  return ctime_of($overlay->{upper}) eq $overlay->{ctime};
}

# Runs the plan; `$place` maps where a step puts something (under the root or the layers),
# host_path() where it takes something from the host. `$reuse`: overlays of the current
# state that the new one binds again (by step); the new state's overlays go to `$built`.
sub run_plan {
  my ($place, $reuse, $built) = @_;
  for my $index (0 .. $#plan) {
    my ($op, @f) = @{$plan[$index]};
    my @mapped = $op eq 'overlay' ? (host_path($f[0]), $place->($f[1]), $place->($f[2]), $place->($f[3]))
      : $op eq 'bind' ? ($place->($f[0]) eq $f[0] ? host_path($f[0]) : $place->($f[0]), $place->($f[1]), $f[2])
      : $op eq 'symlink' ? ($f[0], $place->($f[1]))
      : ($place->($f[0]), @f[1 .. $#f]);
    my $kept = $op eq 'overlay' && defined $reuse ? $reuse->{$index} : undef;
    next if eval {
      if (defined $kept) {
        # Not recursive: the mounts the old state had below it stay with the old state.
        mount_call('/proc/self/fd/' . fileno($kept->{mount}), $mapped[3], undef, $MS{BIND}, undef);
        $built->{$index} = { %$kept, mount => open_path($mapped[3]) };
      } else {
        execute_step([$op, @mapped]);
        if ($op eq 'overlay' && defined $built) {
          my $upper = open_path($mapped[1]);
          $built->{$index} = { mount => open_path($mapped[3]), upper => $upper, ctime => ctime_of($upper) };
        }
      }
      1;
    };
    my $error = $@;
    my $what = $op eq 'overlay' ? "overlay of $f[0]" : $op eq 'symlink' ? "symlink $f[1]" : $op eq 'bind' ? "bind $f[1]" : "$op $f[0]";
    my $message = ref($error) ? $error->{message} : $error;
    die { code => 'NSB_MOUNT_FAILED', message => "mount plan step failed: $what: $message", hints => [hints_for($op, ref($error) ? $error->{errno} : undef)] };
  }
}

eval { run_plan(sub { $_[0] }, undef, $config{reset} eq '1' ? \%overlays : undef); 1 } or do {
  kill('KILL', $command_pid);
  fail($@->{code}, $@->{message}, @{$@->{hints}});
};
phase('mounts');

sub interface_up {
  my ($name) = @_;
  socket(my $socket, 2, 2, 0) or die syscall_error('socket', 'AF_INET', $! + 0); # AF_INET, SOCK_DGRAM
  my $request = pack('a16 s x22', $name, 0x1 | 0x40); # struct ifreq: name, IFF_UP | IFF_RUNNING
  ioctl($socket, 0x8914, $request) or die syscall_error('ioctl', "SIOCSIFFLAGS $name", $! + 0);
}

eval {
  my $hostname = $config{hostname};
  check(syscall($sys->{sethostname}, $hostname, length($hostname)), 'sethostname', $hostname);
  # `none` keeps a network namespace with lo down; `host` never entered a new one.
  interface_up('lo') if $config{network} eq 'loopback';
  1;
} or do { kill('KILL', $command_pid); fail('NSB_SETUP_FAILED', 'sandbox setup failed: ' . (ref($@) ? $@->{message} : $@)) };

# That Node has booted: nothing it still loads from the host's tree comes before this.
my $booted = '';
sysread($sync, $booted, 1);
end_init() unless $booted eq 'b'; # it ended before; its status says how
my $pivot_at = now_ms();

# pivot_root(".", ".") stacks the old root under the new one; detaching "." then removes
# the old tree (the host's, or a reset's previous state) without a directory to park it
# in. Processes whose root is the old root (PID 2) move along; a cwd below it does not.
sub pivot_into {
  my ($dir) = @_;
  chdir($dir) or die syscall_error('chdir', $dir, $! + 0);
  check(syscall($sys->{pivot_root}, my $dot = '.', my $dot2 = '.'), 'pivot_root', $dir);
  check(syscall($sys->{umount2}, my $old = '.', 2), 'umount2', 'the previous root');
  chdir('/');
}

# Resettable: the host's tree goes to HOST_DIR instead of away, then under its cover.
sub pivot_keeping_host {
  my ($dir) = @_;
  make_directories("$dir$HOST_DIR");
  chdir($dir) or die syscall_error('chdir', $dir, $! + 0);
  check(syscall($sys->{pivot_root}, my $dot = '.', my $put_old = substr($HOST_DIR, 1)), 'pivot_root', $dir);
  chdir('/');
  sysopen($host_root, $HOST_DIR, 0x200000 | 0x10000) or die syscall_error('open', "$HOST_DIR (O_PATH)", $! + 0); # O_PATH | O_DIRECTORY
  $host_root_fd = fileno($host_root);
  # The cover holds the mount point of the next state's staging area (see stage_next_state).
  my $cover_flags = $MS{NOSUID} | $MS{NODEV} | $MS{NOEXEC};
  mount_call('tmpfs', $HOST_DIR, 'tmpfs', $cover_flags, 'mode=0000,size=4096');
  mkdir($STAGE_DIR, 0) or die syscall_error('mkdir', $STAGE_DIR, $! + 0);
  mount_call(undef, $HOST_DIR, undef, $MS{REMOUNT} | $MS{RDONLY} | $cover_flags, undef);
}

eval {
  if ($config{reset} eq '1') { pivot_keeping_host($config{root}) } else { pivot_into($config{root}) }
  # A resettable sandbox's init keeps the namespace's capabilities to build the next
  # state; it never runs test code either way.
  drop_capabilities() unless $config{reset} eq '1';
  no_new_privs();
  1;
} or do { kill('KILL', $command_pid); fail('NSB_SETUP_FAILED', 'sandbox setup failed: ' . (ref($@) ? $@->{message} : $@)) };
$started_at = $pivot_at;
phase('root');
syswrite($sync, '{' . join(',', map { json_string($_) . ":$phases{$_}" } sort keys %phases) . "}\n");
close($sync);

# --- 4. the init: PID 2's wait status; orphans are reaped meanwhile.
my $command_status; # PID 2's wait status, once reaped

sub reap_exited {
  while ((my $pid = waitpid(-1, 1)) > 0) { $command_status = $? if $pid == $command_pid } # WNOHANG
}

# Dead but for its parent's wait. A multithreaded process's leader shows Z as soon as its
# own thread is done, while the other threads may still hold its files (a listening
# socket's port among them): only a zombie left with one thread has let go of everything.
sub is_zombie {
  my ($pid) = @_;
  open(my $status, '<', "/proc/$pid/status") or return 1;
  my ($state, $threads) = ('', 0);
  while (my $line = <$status>) {
    if ($line =~ /^State:\s+(\S)/) { $state = $1 }
    elsif ($line =~ /^Threads:\s+(\d+)/) { $threads = $1; last }
  }
  return $state eq 'Z' && $threads <= 1;
}

# SIGKILL every process of the sandbox but PID 2 (and this one), until none is left: a
# process may fork while we look. Zombies wait for their parent (PID 2's are PID 2's).
sub kill_all_but_command {
  for my $round (1 .. 500) {
    reap_exited();
    opendir(my $proc, '/proc') or die syscall_error('opendir', '/proc', $! + 0);
    my @others = grep { /^\d+$/ && $_ != 1 && $_ != $command_pid && !is_zombie($_) } readdir($proc);
    return unless @others;
    kill('KILL', @others);
    select(undef, undef, undef, 0.001);
  }
  die { message => 'processes kept appearing while they were killed' };
}

# System V IPC objects live in the sandbox's IPC namespace, which PID 2 keeps: removed
# (IPC_RMID; the init has the namespace's capabilities). A segment PID 2 still has
# attached goes when it detaches, and no new attach can find it.
sub remove_ipc_objects {
  for my $kind (['shm', 'shmctl'], ['sem', 'semctl'], ['msg', 'msgctl']) {
    my ($table, $call) = @$kind;
    # No such file: a kernel without System V IPC, so nothing to remove.
    open(my $list, '<', "/proc/sysvipc/$table") or $! == 2 ? next : die syscall_error('open', "/proc/sysvipc/$table", $! + 0);
    <$list>; # the header
    while (my $line = <$list>) {
      $line =~ s/^\s+//;
      my (undef, $id) = split(/\s+/, $line); # key, id, ...
      next unless defined $id && $id =~ /^\d+$/;
      # EINVAL, EIDRM: already gone.
      next if syscall($sys->{$call}, $id + 0, 0, 0, 0) == 0 || $! == 22 || $! == 43;
      die syscall_error($call, "IPC_RMID $table $id", $! + 0);
    }
  }
}

my ($next, $layers) = ('/.ns-sandbox-next', '/.ns-sandbox-layers');

# Where a reset's plan puts the root and the layers instead of the configured paths.
sub placed_under {
  my ($root, $layers_dir) = @_;
  my $root_prefix = qr/^\Q$config{root}\E(?=\/|\z)/;
  my $layers_prefix = qr/^\Q$config{layers}\E(?=\/|\z)/;
  return sub {
    my ($path) = @_;
    return $root . substr($path, length($config{root})) if $path =~ $root_prefix;
    return $layers_dir . substr($path, length($config{layers})) if $path =~ $layers_prefix;
    return $path;
  };
}

# The next state, built ahead while a file runs: a private tmpfs on STAGE_DIR holds its
# root and its layers, and every overlay is a bind of the current state's. A reset takes
# it when none of those overlays has changed since (the common case: a test file that
# wrote only to /tmp, or nowhere); then only the kill, the moves and the pivot are left
# for the reset. Otherwise it is dropped and the reset builds the state itself.
my ($staged_root, %staged_overlays);

sub drop_staged_state {
  undef $staged_root;
  %staged_overlays = ();
  syscall($sys->{umount2}, my $stage = $STAGE_DIR, 2); # MNT_DETACH; nothing there is no error
}

sub stage_next_state {
  drop_staged_state();
  my %built;
  my $ok = eval {
    mount_call('tmpfs', $STAGE_DIR, 'tmpfs', $MS{NOSUID} | $MS{NODEV}, 'mode=0700,size=4096');
    mkdir("$STAGE_DIR/$_", 0700) or die syscall_error('mkdir', "$STAGE_DIR/$_", $! + 0) for qw(root layers);
    run_plan(placed_under("$STAGE_DIR/root", "$STAGE_DIR/layers"), \%overlays, \%built);
    make_directories("$STAGE_DIR/root$HOST_DIR");
    $staged_root = open_path("$STAGE_DIR/root");
    1;
  };
  if ($ok) { %staged_overlays = %built } else { drop_staged_state() } # only a missed shortcut: the reset builds and reports
}

# A fresh state for the next test file, in this mount namespace (PID 2 cannot change
# namespaces: it is multithreaded): every process but PID 2 killed, System V IPC objects
# removed, then the staged state, or the plan run again into a new tree (new copy-on-write
# layers, /tmp, /run, /var/tmp, /dev/shm, /proc, /dev; layers nothing changed are kept, see
# run_plan), pivot_root into it (PID 2's root moves along; its cwd stays in the old tree
# until it changes directory), the hostname set again. The old tree goes when nothing
# holds it.
sub reset_state {
  my $at = now_ms();
  my (%built, $staged);
  my $ok = eval {
    kill_all_but_command();
    remove_ipc_objects();
    my %reuse = map { $_ => $overlays{$_} } grep { overlay_unchanged($overlays{$_}) } keys %overlays;
    make_directories($next);
    if (defined $staged_root && keys(%reuse) == keys(%overlays)) {
      # Out of the host's tree first: that tree is about to move into it.
      mount_call('/proc/self/fd/' . fileno($staged_root), $next, undef, $MS{MOVE}, undef);
      %built = %staged_overlays;
      $staged = 1;
    } else {
      drop_staged_state();
      run_plan(placed_under($next, $layers), \%reuse, \%built);
    }
    my $hostname = $config{hostname};
    check(syscall($sys->{sethostname}, $hostname, length($hostname)), 'sethostname', $hostname);
    # The host's tree (and its cover) moves into the new tree; the old tree then goes.
    make_directories("$next$HOST_DIR");
    mount_call("/proc/self/fd/$host_root_fd", "$next$HOST_DIR", undef, $MS{MOVE}, undef);
    pivot_into($next);
    1;
  };
  if ($ok) {
    my $kept = grep { $built{$_}{upper} == $overlays{$_}{upper} } keys %built;
    %overlays = %built; # the old state's handles close: its layers go with its tree
    undef $staged_root if $staged;
    send_status('{"type":"reset","ms":' . (int((now_ms() - $at) * 100 + 0.5) / 100) . ',"kept":' . $kept
      . ',"staged":' . ($staged ? 'true' : 'false') . '}');
    stage_next_state();
    return;
  }
  my $message = ref($@) ? $@->{message} : "$@";
  send_status('{"type":"reset","ms":0,"error":' . json_string($message) . '}');
  kill('KILL', $command_pid); # a half-built state is no sandbox to run tests in
}

# Resettable: PID 2's end or a command from the host on the status fd, whichever comes
# first. SIGCHLD interrupts select(); the timeout covers one arriving just before it.
sub serve_commands {
  local $SIG{CHLD} = sub {};
  my $commands = '';
  stage_next_state();
  while (1) {
    reap_exited();
    return if defined $command_status;
    my $wanted = '';
    vec($wanted, fileno($status), 1) = 1;
    next unless select(my $readable = $wanted, undef, undef, 0.25) > 0;
    return unless sysread($status, $commands, 4096, length($commands)); # the host is done
    while ($commands =~ s/^([^\n]*)\n//) { reset_state() if $1 eq 'reset' }
  }
}

sub wait_for_command {
  serve_commands() if $config{reset} eq '1' && !defined $command_status;
  while (!defined $command_status) {
    my $pid = waitpid(-1, 0);
    return -1 if $pid < 0;
    $command_status = $? if $pid == $command_pid;
  }
  return $command_status;
}

sub report_leftovers {
  my $mark = '@nsb '; # INIT_REPORT_MARK in protocol.ts, parsed by report/init-dump.ts
  opendir(my $proc, '/proc') or return;
  for my $pid (sort { $a <=> $b } grep { /^\d+$/ && $_ != 1 } readdir($proc)) {
    my $argv = '';
    if (open(my $cmdline, '<', "/proc/$pid/cmdline")) {
      local $/;
      $argv = <$cmdline> // '';
      $argv =~ tr/\0\n/\x1f\x1e/;
    }
    if ($argv eq '' && open(my $comm, '<', "/proc/$pid/comm")) { chomp(my $name = <$comm> // ''); $argv = "[$name]" }
    send_status("${mark}proc $pid $argv");
  }
  for my $table (qw(tcp tcp6 udp udp6)) {
    open(my $lines, '<', "/proc/net/$table") or next;
    while (my $line = <$lines>) { $line =~ s/^\s+|\s+\z//g; send_status("$mark$table $line") }
  }
  send_status("${mark}end");
}

# As a shell gives it (128+N for signal N: unshare exits with it), and exactly.
sub end_init {
  my $wait_status = wait_for_command();
  my ($exit_status, $code, $signal) = $wait_status < 0 ? (127, 127, 'null')
    : $wait_status & 127 ? (128 + ($wait_status & 127), 'null', $wait_status & 127)
    : ($wait_status >> 8, $wait_status >> 8, 'null');
  report_leftovers() if $config{report} eq '1';
  send_status(qq({"type":"init-exit","status":$exit_status,"code":$code,"signal":$signal}));
  exit $exit_status;
}

end_init();
