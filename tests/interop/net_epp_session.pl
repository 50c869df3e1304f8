#!/usr/bin/perl
# Full EPP session against an EPP-over-TLS server using Debian's libnet-epp-perl
# (Net::EPP::Client, raw XML frames). See README.md beside this file.
#
# usage: net_epp_session.pl [options] HOST PORT CLID PASSWORD CLID2 PASSWORD2
#   --ca-file FILE   verify the server certificate against FILE (PEM) and check its
#                    name against HOST (SAN DNS or IP). Without it: no verification.
#   --cert FILE --key FILE   present a client certificate (mutual TLS)
#   --tld TLD        TLD for the test domain (default: test)
#   --timeout SECS   per-frame read timeout (default: 20)
#   --verbose        print every frame sent and received
#
# Flow: conn1(CLID) greeting, login, contact create, host create, domain create, domain info,
# domain update, domain renew; conn2(CLID2) greeting, login, transfer request; conn1 transfer
# approve; conn2 domain info, domain delete; logout both. Prints each result code; exits 1 on
# the first unexpected code (or clTRID mismatch / transport error), 0 when all passed.
use strict;
use warnings;
use Getopt::Long;
use Encode qw(encode_utf8);
use IO::Socket::SSL qw(SSL_VERIFY_NONE SSL_VERIFY_PEER);
use Net::EPP::Client;
use XML::LibXML;

my %opt = (tld => 'test', timeout => 20);
GetOptions(\%opt, 'ca-file=s', 'cert=s', 'key=s', 'tld=s', 'timeout=i', 'verbose')
    or die "bad options\n";
die "usage: $0 [--ca-file F] [--cert F --key F] [--tld T] HOST PORT CLID PW CLID2 PW2\n" unless @ARGV == 6;
my ($host, $port, $clid, $pw, $clid2, $pw2) = @ARGV;

my $EPP  = 'urn:ietf:params:xml:ns:epp-1.0';
my $DOM  = 'urn:ietf:params:xml:ns:domain-1.0';
my $CON  = 'urn:ietf:params:xml:ns:contact-1.0';
my $HOST = 'urn:ietf:params:xml:ns:host-1.0';

my $tag      = sprintf('%x%04x', time() % 0xffffff, $$ % 0xffff);      # unique per run
my $domain   = "perl-$tag.$opt{tld}";
my $contact  = "pc$tag";                                             # clIDType: 3..16 chars
my $ns       = "ns1.perl-$tag.example.net";                          # external host: no addrs
my $auth1    = 'Auth-1-' . $tag;
my $auth2    = 'Auth-2-' . $tag;
my $trid_seq = 0;

sub x { my $s = shift; $s =~ s/&/&amp;/g; $s =~ s/</&lt;/g; $s =~ s/>/&gt;/g; $s =~ s/"/&quot;/g; $s }

sub fail { print "FAIL: @_\n"; exit 1 }

sub connect_epp {
    my ($label) = @_;
    my %ssl = (Timeout => 10);
    if ($opt{'ca-file'}) {
        %ssl = (%ssl,
            SSL_verify_mode     => SSL_VERIFY_PEER,
            SSL_ca_file         => $opt{'ca-file'},
            SSL_verifycn_scheme => 'default',   # fail (not just warn) on a name mismatch
            SSL_verifycn_name   => $host,       # an IP here matches an IP SAN
        );
    } else {
        %ssl = (%ssl, SSL_verify_mode => SSL_VERIFY_NONE);
    }
    if ($opt{cert}) {
        %ssl = (%ssl, SSL_cert_file => $opt{cert}, SSL_key_file => ($opt{key} || $opt{cert}));
    }
    my $epp = Net::EPP::Client->new(host => $host, port => $port, ssl => 1);
    my $greeting = eval { with_timeout(sub { $epp->connect(%ssl) }) };
    fail("$label connect: $@") if $@ || !defined $greeting;
    print "  < $greeting\n" if $opt{verbose};
    my $doc = eval { XML::LibXML->load_xml(string => $greeting) };
    fail("$label greeting is not well-formed XML: $@") unless $doc;
    my ($g) = $doc->getElementsByTagNameNS($EPP, 'greeting');
    fail("$label first frame is not a <greeting>") unless $g;
    my @obj = map { $_->textContent } $doc->getElementsByTagNameNS($EPP, 'objURI');
    printf "%-8s greeting     svID=%s objURIs=%s\n", $label,
        ($doc->getElementsByTagNameNS($EPP, 'svID')->[0] // XML::LibXML::Text->new('?'))->textContent,
        join(',', map { (split /:/)[-1] } @obj);
    for my $need ($DOM, $CON, $HOST) {
        fail("$label greeting lacks objURI $need") unless grep { $_ eq $need } @obj;
    }
    return $epp;
}

sub with_timeout {
    my ($code) = @_;
    local $SIG{ALRM} = sub { die "timeout after $opt{timeout}s\n" };
    alarm($opt{timeout});
    my $r = eval { $code->() };
    my $err = $@;
    alarm(0);
    die $err if $err;
    return $r;
}

# Wrap a command body in <epp><command>...<clTRID/></command></epp>, send it, check the code.
sub cmd {
    my ($epp, $label, $what, $body, @ok) = @_;
    my $trid = sprintf('PERL-%s-%03d', $tag, ++$trid_seq);
    my $xml = qq{<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n}
        . qq{<epp xmlns="$EPP"><command>$body<clTRID>$trid</clTRID></command></epp>};
    print "  > $xml\n" if $opt{verbose};
    # Net::EPP::Protocol frames with length() under 'use bytes': pass UTF-8 bytes, not characters.
    my $answer = eval { with_timeout(sub { $epp->request(encode_utf8($xml)) }) };
    fail("$label $what: transport error: " . ($@ || 'no response')) if $@ || !defined $answer;
    print "  < $answer\n" if $opt{verbose};
    my $doc = eval { XML::LibXML->load_xml(string => $answer) };
    fail("$label $what: response is not well-formed XML: $@") unless $doc;
    my ($result) = $doc->getElementsByTagNameNS($EPP, 'result');
    fail("$label $what: no <result> in response") unless $result;
    my $code = $result->getAttribute('code');
    my $msg  = ($result->getElementsByTagNameNS($EPP, 'msg')->[0] // XML::LibXML::Text->new(''))->textContent;
    my ($cl) = $doc->getElementsByTagNameNS($EPP, 'clTRID');
    my ($sv) = $doc->getElementsByTagNameNS($EPP, 'svTRID');
    printf "%-8s %-12s %s %s [svTRID=%s]\n", $label, $what, $code, $msg, $sv ? $sv->textContent : '-';
    fail("$label $what: clTRID not echoed (sent $trid, got " . ($cl ? $cl->textContent : 'none') . ')')
        unless $cl && $cl->textContent eq $trid;
    fail("$label $what: unexpected result code $code (expected " . join('/', @ok) . ')')
        unless grep { $_ == $code } @ok;
    return $doc;
}

sub dtext {    # first domain-1.0 element text in a response
    my ($doc, $local) = @_;
    my ($n) = $doc->getElementsByTagNameNS($DOM, $local);
    return $n ? $n->textContent : undef;
}

my $d = qq{xmlns:domain="$DOM"};

print "domain=$domain contact=$contact host=$ns\n";
my $c1 = connect_epp('reg1');
cmd($c1, 'reg1', 'login', '<login><clID>' . x($clid) . '</clID><pw>' . x($pw) . '</pw>'
    . '<options><version>1.0</version><lang>en</lang></options>'
    . "<svcs><objURI>$DOM</objURI><objURI>$CON</objURI><objURI>$HOST</objURI></svcs></login>", 1000);

cmd($c1, 'reg1', 'contact:create', qq{<create><contact:create xmlns:contact="$CON">}
    . "<contact:id>$contact</contact:id>"
    . '<contact:postalInfo type="int"><contact:name>Perl Interop</contact:name>'
    . '<contact:org>Net::EPP test</contact:org><contact:addr><contact:street>1 Test Street</contact:street>'
    . '<contact:city>Testville</contact:city><contact:pc>12345</contact:pc><contact:cc>DE</contact:cc>'
    . '</contact:addr></contact:postalInfo><contact:voice>+49.3012345678</contact:voice>'
    . '<contact:email>perl-interop@example.net</contact:email>'
    . "<contact:authInfo><contact:pw>$auth1</contact:pw></contact:authInfo>"
    . '</contact:create></create>', 1000);

cmd($c1, 'reg1', 'host:create', qq{<create><host:create xmlns:host="$HOST"><host:name>$ns</host:name>}
    . '</host:create></create>', 1000);

my $cre = cmd($c1, 'reg1', 'domain:create', "<create><domain:create $d><domain:name>$domain</domain:name>"
    . '<domain:period unit="y">1</domain:period>'
    . "<domain:ns><domain:hostObj>$ns</domain:hostObj></domain:ns>"
    . "<domain:registrant>$contact</domain:registrant>"
    . qq{<domain:contact type="admin">$contact</domain:contact><domain:contact type="tech">$contact</domain:contact>}
    . "<domain:authInfo><domain:pw>$auth1</domain:pw></domain:authInfo></domain:create></create>", 1000);
print "           exDate after create: ", (dtext($cre, 'exDate') // '-'), "\n";

my $inf = cmd($c1, 'reg1', 'domain:info', qq{<info><domain:info $d><domain:name hosts="all">$domain</domain:name>}
    . '</domain:info></info>', 1000);
my $exdate = dtext($inf, 'exDate');
fail('domain:info has no <domain:exDate>') unless $exdate;
print "           clID=", (dtext($inf, 'clID') // '-'), " exDate=$exdate\n";

cmd($c1, 'reg1', 'domain:update', "<update><domain:update $d><domain:name>$domain</domain:name>"
    . '<domain:add><domain:status s="clientHold" lang="en">interop test</domain:status></domain:add>'
    . "<domain:chg><domain:authInfo><domain:pw>$auth2</domain:pw></domain:authInfo></domain:chg>"
    . '</domain:update></update>', 1000);
cmd($c1, 'reg1', 'domain:update', "<update><domain:update $d><domain:name>$domain</domain:name>"
    . '<domain:rem><domain:status s="clientHold"/></domain:rem></domain:update></update>', 1000);

my ($cur) = $exdate =~ /^(\d{4}-\d{2}-\d{2})/;    # curExpDate is xs:date, exDate is xs:dateTime
my $ren = cmd($c1, 'reg1', 'domain:renew', "<renew><domain:renew $d><domain:name>$domain</domain:name>"
    . "<domain:curExpDate>$cur</domain:curExpDate><domain:period unit=\"y\">1</domain:period>"
    . '</domain:renew></renew>', 1000);
print "           exDate after renew: ", (dtext($ren, 'exDate') // '-'), "\n";

my $c2 = connect_epp('reg2');
cmd($c2, 'reg2', 'login', '<login><clID>' . x($clid2) . '</clID><pw>' . x($pw2) . '</pw>'
    . '<options><version>1.0</version><lang>en</lang></options>'
    . "<svcs><objURI>$DOM</objURI><objURI>$CON</objURI><objURI>$HOST</objURI></svcs></login>", 1000);
my $trn = cmd($c2, 'reg2', 'transfer:req', qq{<transfer op="request"><domain:transfer $d>}
    . "<domain:name>$domain</domain:name><domain:authInfo><domain:pw>$auth2</domain:pw></domain:authInfo>"
    . '</domain:transfer></transfer>', 1001);
print "           trStatus=", (dtext($trn, 'trStatus') // '-'), "\n";

my $app = cmd($c1, 'reg1', 'transfer:apr', qq{<transfer op="approve"><domain:transfer $d>}
    . "<domain:name>$domain</domain:name></domain:transfer></transfer>", 1000);
print "           trStatus=", (dtext($app, 'trStatus') // '-'), "\n";

my $inf2 = cmd($c2, 'reg2', 'domain:info', qq{<info><domain:info $d><domain:name hosts="all">$domain</domain:name>}
    . '</domain:info></info>', 1000);
my $sponsor = dtext($inf2, 'clID') // '-';
fail("after the transfer the sponsor is $sponsor, not $clid2") unless $sponsor eq $clid2;
print "           clID=$sponsor\n";

cmd($c2, 'reg2', 'domain:delete', "<delete><domain:delete $d><domain:name>$domain</domain:name>"
    . '</domain:delete></delete>', 1000, 1001);

cmd($c2, 'reg2', 'logout', '<logout/>', 1500);
cmd($c1, 'reg1', 'logout', '<logout/>', 1500);
$c1->disconnect;
$c2->disconnect;
print "OK: all commands returned the expected codes\n";
exit 0;
