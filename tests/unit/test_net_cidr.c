/* net_parse_cidr, net_prefix_match and net_addr16: the address rules of ip_exceptions. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "core/net.h"

static void addr16_of(const char *text, unsigned char out[16])
{
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};

    if (inet_pton(AF_INET, text, &a4.sin_addr) == 1)
        net_addr16((struct sockaddr *)&a4, out);
    else if (inet_pton(AF_INET6, text, &a6.sin6_addr) == 1)
        net_addr16((struct sockaddr *)&a6, out);
    else
        cr_assert_fail("bad test address %s", text);
}

static bool in(const char *addr, const char *net)
{
    unsigned char a[16], n[16];
    unsigned bits;
    const char *why = NULL;

    cr_assert_eq(net_parse_cidr(net, n, &bits, &why), 0, "%s: %s", net, why);
    addr16_of(addr, a);
    return net_prefix_match(a, n, bits);
}

static const char *refused(const char *net)
{
    unsigned char n[16];
    unsigned bits;
    const char *why = NULL;

    cr_assert_eq(net_parse_cidr(net, n, &bits, &why), -1, "%s was accepted", net);
    cr_assert_not_null(why);
    return why;
}

Test(cidr, ipv4_networks_and_single_addresses)
{
    cr_assert(in("127.0.0.1", "127.0.0.0/8"));
    cr_assert(in("127.255.255.254", "127.0.0.0/8"));
    cr_assert_not(in("128.0.0.1", "127.0.0.0/8"));
    cr_assert(in("10.1.2.3", "10.1.2.3"), "no prefix: the address alone");
    cr_assert_not(in("10.1.2.4", "10.1.2.3"));
    cr_assert(in("192.168.1.77", "192.168.1.64/26"));
    cr_assert_not(in("192.168.1.128", "192.168.1.64/26"));
    cr_assert(in("8.8.8.8", "0.0.0.0/0"), "/0 is everybody (of IPv4)");
}

Test(cidr, ipv6_networks)
{
    cr_assert(in("2001:db8::1", "2001:db8::/32"));
    cr_assert_not(in("2001:db9::1", "2001:db8::/32"));
    cr_assert(in("::1", "::1"));
    cr_assert(in("fe80::1:2", "fe80::/10"));
    cr_assert_not(in("fec0::1", "fe80::/10"), "a prefix that ends inside a byte");
}

Test(cidr, ipv4_rules_match_ipv4_mapped_clients_and_not_other_ipv6)
{
    cr_assert(in("::ffff:127.0.0.1", "127.0.0.0/8"), "an IPv4 client on an IPv6 socket");
    cr_assert_not(in("::1", "127.0.0.0/8"));
    cr_assert_not(in("2001:db8::1", "0.0.0.0/0"), "IPv4's /0 is not every IPv6 client");
    cr_assert(in("127.0.0.1", "::ffff:0:0/96"), "mapped notation works both ways");
}

Test(cidr, malformed_rules_say_why)
{
    cr_assert_not_null(strstr(refused("10.0.0.1/8"), "bits after the prefix are zero"));
    cr_assert_not_null(strstr(refused("10.0.0.0/33"), "at most 32"));
    cr_assert_not_null(strstr(refused("::/129"), "at most 128"));
    cr_assert_not_null(strstr(refused("10.0.0.0/"), "prefix length"));
    cr_assert_not_null(strstr(refused("10.0.0.0/x"), "prefix length"));
    cr_assert_not_null(strstr(refused("10.0.0.0/0008"), "prefix length"));
    cr_assert_not_null(strstr(refused("example.com"), "numeric"));
    cr_assert_not_null(strstr(refused("10.0.0"), "numeric"));
    refused("");
    refused("/8");
}

Test(cidr, prefix_lengths_beyond_128_never_match)
{
    unsigned char a[16] = {0};

    cr_assert_not(net_prefix_match(a, a, 129));
    cr_assert(net_prefix_match(a, a, 128));
    cr_assert(net_prefix_match(a, a, 0));
}
