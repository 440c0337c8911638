"""freddyctl apikey create|list|delete through the real helper and the
emulator's JWT API, as real unprivileged users (issue 14): the user's
cached access token (refreshed first when it has expired) as the bearer
JWT; the key printed once, never listed, never logged."""

import re
import time

from freddytest import main
from selfservice import NOT_CACHED, SelfServiceTestCase

KEYS = "/api/v1/auth/keys"


class ApiKeys(SelfServiceTestCase):
    env_kwargs = {"api": "jwt"}

    def logged_in(self, user):
        r = self.env.jwt_login(user)
        self.assertEqual(r.status, 0, r)

    def create(self, user, name):
        r = self.env.ctl_as(user, "apikey", "create", name)
        self.assertEqual(r.returncode, 0, r)
        fields = dict(line.split(": ", 1) for line in r.stdout.splitlines())
        self.assertEqual(set(fields), {"keyId", "name", "createdAt", "apiKey"}, r.stdout)
        return fields

    def test_create_list_delete(self):
        self.logged_in("alice")
        key = self.create("alice", "CI deploys")
        self.assertEqual(key["name"], "CI deploys")
        self.assertRegex(key["keyId"], r"^key_[0-9a-f]{6}$")
        self.assertRegex(key["apiKey"], r"^sk_live_")
        self.assertEqual(self.env.emu.requests("POST " + KEYS), 1)

        r = self.env.ctl_as("alice", "apikey", "list")
        self.assertEqual(r.returncode, 0, r)
        rows = r.stdout.splitlines()
        self.assertEqual(rows[0].split(), ["KEY", "ID", "NAME", "CREATED", "LAST", "USED"])
        self.assertEqual(rows[1].split(), [key["keyId"], "CI", "deploys", key["createdAt"], "never"])
        self.assertNotIn(key["apiKey"], r.stdout + r.stderr)

        self.env.emu.admin("use-api-key", {"keyId": key["keyId"]})
        r = self.env.ctl_as("alice", "apikey", "list")
        self.assertRegex(r.stdout.splitlines()[1], r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

        r = self.env.ctl_as("alice", "apikey", "delete", key["keyId"])
        self.assertEqual((r.returncode, r.stdout), (0, "apikey: %s deleted\n" % key["keyId"]), r)
        self.assertEqual(self.env.emu.requests("DELETE %s/%s" % (KEYS, key["keyId"])), 1)
        r = self.env.ctl_as("alice", "apikey", "delete", key["keyId"])
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("API key not found", r.stderr)
        r = self.env.ctl_as("alice", "apikey", "list")
        self.assertEqual((r.returncode, r.stdout), (0, ""), r)

        self.assertEqual(self.env.secrets_in_log([key["apiKey"]]), [])
        self.assertNotIn(key["apiKey"].encode(), self.env.cache_bytes("alice"))

    def test_another_users_key_is_not_found(self):
        self.logged_in("alice")
        self.logged_in("bob")
        key = self.create("alice", "mine")
        r = self.env.ctl_as("bob", "apikey", "delete", key["keyId"])
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("API key not found", r.stderr)
        self.assertEqual(self.env.ctl_as("bob", "apikey", "list").stdout, "")
        self.assertIn(key["keyId"], self.env.ctl_as("alice", "apikey", "list").stdout)

    def test_caller_without_a_cached_login_makes_no_request(self):
        self.logged_in("alice")
        self.env.emu.admin("reset", {})
        for user in ("carol", "root", 3999):
            for args in (("apikey", "create", "x"), ("apikey", "list"), ("apikey", "delete", "key_abc123")):
                r = self.env.ctl_as(user, *args)
                self.assertEqual((r.returncode, r.stdout), (1, ""), (user, args, r))
        self.assertIn(NOT_CACHED, self.env.ctl_as("carol", "apikey", "list").stderr)
        self.assertNoApiRequest()

    def test_expired_token_is_refreshed_first(self):
        self.logged_in("alice")
        self.env.rewrite_cache("alice", access_expires=int(time.time()) - 10)
        self.create("alice", "after refresh")
        requests = self.env.api_requests()
        self.assertEqual(requests.get("POST /api/v1/auth/refresh"), 1)
        self.assertEqual(requests.get("POST " + KEYS), 1)

    def test_token_refused_by_the_api_is_refreshed_once(self):
        # The cache believes the token fresh; the API has ended it.
        self.logged_in("alice")
        self.env.emu.admin("expire-access", {"username": "alice"})
        self.create("alice", "retried")
        requests = self.env.api_requests()
        self.assertEqual(requests.get("POST " + KEYS), 2)           # 401, then the retry
        self.assertEqual(requests.get("POST /api/v1/auth/refresh"), 1)

    def test_revoked_login(self):
        self.logged_in("alice")
        self.env.emu.admin("revoke", {"username": "alice"})
        self.env.rewrite_cache("alice", access_expires=int(time.time()) - 10)
        r = self.env.ctl_as("alice", "apikey", "list")
        self.assertEqual((r.returncode, r.stdout), (1, ""), r)
        self.assertIn("no longer valid", r.stderr)
        self.assertIsNone(self.env.cached("alice"))

    def test_api_unreachable(self):
        self.logged_in("alice")
        self.env.emu.admin("config", {"fault": "reset"})
        r = self.env.ctl_as("alice", "apikey", "list")
        self.assertEqual(r.returncode, 3, r)

    def test_bad_key_id_makes_no_request(self):
        self.logged_in("alice")
        before = self.env.api_requests()
        for bad in ("../keys", "key?x=1", "key abc", "k" * 200):
            r = self.env.ctl_as("alice", "apikey", "delete", bad)
            self.assertEqual(r.returncode, 1, (bad, r))
            self.assertIn("API key not found", r.stderr)
        self.assertEqual(self.env.api_requests(), before)

    def test_wrong_types_in_a_reply(self):
        self.logged_in("alice")
        self.env.emu.admin("config", {"fault": "wrongtypes", "fault_paths": [KEYS]})
        for args in (("apikey", "create", "x"), ("apikey", "list")):
            r = self.env.ctl_as("alice", *args)
            self.assertEqual((r.returncode, r.stdout), (3, ""), (args, r))

    def test_2fa_is_not_for_jwt(self):
        self.logged_in("alice")
        before = self.env.api_requests()
        r = self.env.ctl_as("alice", "2fa", "status")
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(self.env.api_requests(), before)
        self.assertTrue(re.search("aius", r.stderr), r.stderr)


if __name__ == "__main__":
    main()
