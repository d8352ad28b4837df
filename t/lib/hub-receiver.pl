#!/usr/bin/perl
# A loopback webhook receiver for the hub's delivery tests (t/93).
# usage: hub-receiver.pl PORTFILE LOGFILE
# Listens on 127.0.0.1 (a free port, written to PORTFILE), forks per
# connection, and appends one JSON line per request to LOGFILE (path,
# Idempotency-Key, body, every header by its lower-case name, arrival
# time, how many times this path was seen).  What it answers depends on the path:
#   /ok/...            200
#   /fail-N/...        500 for the first N requests to the path, then 200
#   /slow-S/...        sleeps S seconds, then 200
#   /stall-S/...       the first request sleeps S seconds then 200; later ones 200
use strict;
use warnings;
use IO::Socket::INET;
use Fcntl qw(:flock);
use JSON::PP;
use Time::HiRes qw(time sleep);
use POSIX ();

my ($portfile, $logfile) = @ARGV;
my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Listen => 64, ReuseAddr => 1, Proto => 'tcp') or die "listen: $!";
open(my $pf, '>', "$portfile.tmp") or die;
print $pf $srv->sockport, "\n";
close $pf;
rename("$portfile.tmp", $portfile) or die;
$SIG{CHLD} = 'IGNORE';
$SIG{TERM} = sub { exit 0 };

# Log the request; returns how many requests this path has had (this one included).
sub record {
	my ($path, $key, $body, $headers) = @_;
	open(my $fh, '+>>', $logfile) or die "$logfile: $!";
	flock($fh, LOCK_EX);
	seek($fh, 0, 0);
	my $n = 1;
	while (my $l = <$fh>) {
		my $j = eval { decode_json($l) } or next;
		$n++ if $j->{path} eq $path;
	}
	print $fh encode_json({ path => $path, key => $key, body => $body,
	    headers => $headers,
	    at => time, n => $n, pid => $$ }), "\n";
	close $fh;
	return $n;
}

while (1) {
	my $c = $srv->accept or next;
	my $pid = fork;
	next if !defined $pid;
	if ($pid) { close $c; next; }
	close $srv;
	alarm 60;
	my ($line, %h) = (scalar <$c>);
	exit 0 unless defined $line;
	my ($method, $path) = split ' ', $line;
	while (my $l = <$c>) {
		$l =~ s/\r?\n$//;
		last if $l eq '';
		my ($k, $v) = split /:\s*/, $l, 2;
		$h{ lc $k } = $v;
	}
	my $body = '';
	read($c, $body, $h{'content-length'}) if $h{'content-length'};
	my $n = record($path, $h{'idempotency-key'}, $body, \%h);
	my $status = 200;
	if ($path =~ m{^/fail-(\d+)/} && $n <= $1) {
		$status = 500;
	} elsif ($path =~ m{^/slow-(\d+)/}) {
		sleep $1;
	} elsif ($path =~ m{^/stall-(\d+)/} && $n == 1) {
		sleep $1;
	}
	print $c "HTTP/1.1 $status X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
	close $c;
	POSIX::_exit(0);
}
