"""The catalogues against the code: every text the code marks for
translation (po/POTFILES.in, extracted by xgettext with po/Makevars'
keywords) is in po/pam_freddy.pot and translated in every po/LL.po of
po/LINGUAS, not fuzzy, with every plural form; every file that marks a
text is in POTFILES.in; each translation keeps what the code relies on
(the printf conversions, which msgfmt --check checks; the space after a
prompt's colon; a trailing newline) and each language's typography."""

import os
import re
import subprocess
import tempfile
import unittest

from freddytest import PO_DIR, TOP_SRCDIR, po_languages

NB, NN = "\u00a0", "\u202f"


def makevar(name):
    """A variable of po/Makevars, continuation lines joined."""
    with open(os.path.join(PO_DIR, "Makevars")) as f:
        text = f.read().replace("\\\n", " ")
    m = re.search(r"^%s\s*=(.*)$" % name, text, re.M)
    return m.group(1).split()


def unquote(s):
    return bytes(s, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")


def parse_po(path):
    """[{msgid, msgid_plural, msgstr: [..], fuzzy}] without the header."""
    entries, cur, key = [], None, None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for line in lines + [""]:
        if not line.strip():
            if cur is not None and "msgid" in cur:
                entries.append(cur)
            cur, key = None, None
            continue
        if cur is None:
            cur = {"fuzzy": False, "msgstr": {}, "obsolete": False}
        if line.startswith("#~"):
            cur["obsolete"] = True
            continue
        if line.startswith("#,") and "fuzzy" in line:
            cur["fuzzy"] = True
        if line.startswith("#"):
            continue
        m = re.match(r'^(msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+"(.*)"$', line)
        if m:
            key = ("msgstr", int(m.group(2) or 0)) if m.group(1).startswith("msgstr") else m.group(1)
            value = unquote(m.group(3))
        else:
            value = unquote(re.match(r'^"(.*)"$', line).group(1))
            m = None
        if isinstance(key, tuple):
            cur["msgstr"][key[1]] = cur["msgstr"].get(key[1], "") + value
        else:
            cur[key] = cur.get(key, "") + value
    return [e for e in entries if e["msgid"] != "" and not e["obsolete"]]


def xgettext(files):
    """The msgids (singular, plural) the code marks in `files`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "code.pot")
        subprocess.run(["xgettext", "--directory", TOP_SRCDIR, "--output", out, "--omit-header",
                        "--no-location", *makevar("XGETTEXT_OPTIONS"), *files], check=True)
        if not os.path.exists(out):
            return set()
        return {(e["msgid"], e.get("msgid_plural")) for e in parse_po(out)}


def potfiles():
    with open(os.path.join(PO_DIR, "POTFILES.in")) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def nplurals(path):
    with open(path, encoding="utf-8") as f:
        return int(re.search(r"nplurals=(\d+)", f.read()).group(1))


class Catalogues(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.code = xgettext(potfiles())
        cls.languages = po_languages()

    def test_there_are_catalogues_and_texts(self):
        self.assertGreaterEqual(set(self.languages), {"de", "fr", "es"})
        self.assertGreater(len(self.code), 100)

    def test_every_file_that_marks_a_text_is_in_potfiles(self):
        # Walked, not `git ls-files`: the release tarball (make distcheck)
        # has no repository.
        sources = []
        for top, dirs, files in os.walk(TOP_SRCDIR):
            rel = os.path.relpath(top, TOP_SRCDIR)
            dirs[:] = [d for d in dirs if not d.startswith((".", "_build", "pam_freddy-"))
                       and not (rel == "." and d in ("tests", "fuzz"))]
            sources += [os.path.normpath(os.path.join(rel, f)) for f in files if f.endswith(".c")]
        self.assertGreater(len(sources), 50)
        listed = set(potfiles())
        for path in sorted(sources):
            if path in listed:
                continue
            self.assertEqual(xgettext([path]), set(), "%s marks texts but is not in po/POTFILES.in" % path)

    def test_the_template_is_up_to_date(self):
        pot = {(e["msgid"], e.get("msgid_plural")) for e in parse_po(os.path.join(PO_DIR, "pam_freddy.pot"))}
        self.assertEqual(self.code - pot, set(), "po/pam_freddy.pot lacks these: run make update-po")
        self.assertEqual(pot - self.code, set(), "po/pam_freddy.pot has texts the code no longer has")

    def test_every_text_is_translated_in_every_language(self):
        for lang in self.languages:
            path = os.path.join(PO_DIR, lang + ".po")
            forms = nplurals(path)
            po = {(e["msgid"], e.get("msgid_plural")): e for e in parse_po(path)}
            for key in sorted(self.code):
                with self.subTest(lang=lang, msgid=key[0]):
                    self.assertIn(key, po, "missing from %s.po" % lang)
                    e = po[key]
                    self.assertFalse(e["fuzzy"], "fuzzy in %s.po" % lang)
                    want = forms if key[1] is not None else 1
                    self.assertEqual(sorted(e["msgstr"]), list(range(want)))
                    for text in e["msgstr"].values():
                        self.assertNotEqual(text, "", "untranslated in %s.po" % lang)

    def test_msgfmt_checks_pass(self):
        for lang in self.languages:
            r = subprocess.run(["msgfmt", "--check", "--output-file=/dev/null", os.path.join(PO_DIR, lang + ".po")],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)

    def translations(self, lang):
        for e in parse_po(os.path.join(PO_DIR, lang + ".po")):
            for i, text in e["msgstr"].items():
                yield (e["msgid"] if i == 0 or "msgid_plural" not in e else e["msgid_plural"]), text

    def test_prompts_and_lines_keep_their_ends(self):
        for lang in self.languages:
            for msgid, text in self.translations(lang):
                with self.subTest(lang=lang, msgid=msgid):
                    # A prompt's answer must not stick to its colon.
                    self.assertEqual(msgid.endswith(": "), text.endswith(": "), text)
                    self.assertEqual(msgid.endswith("\n"), text.endswith("\n"), text)
                    self.assertEqual(msgid[:1] == "\n", text[:1] == "\n", text)

    def test_french_typography(self):
        # A no-break space before ':' and inside guillemets, a narrow one
        # before ';', '!' and '?', and the typographic apostrophe.
        for msgid, text in self.translations("fr"):
            with self.subTest(msgid=msgid):
                for i, c in enumerate(text):
                    if c in ":;!?" and not text[i - 1:i + 2] == "://":
                        self.assertIn(text[i - 1], (NB, NN), "no no-break space before %r: %r" % (c, text))
                    if c == "«":
                        self.assertEqual(text[i + 1], NB, text)
                    if c == "»":
                        self.assertEqual(text[i - 1], NB, text)
                self.assertNotIn("'", text)
                self.assertNotIn('"', text)

    def test_german_quotes_and_formal_address(self):
        for msgid, text in self.translations("de"):
            with self.subTest(msgid=msgid):
                self.assertNotIn('"', text)
                # The person is addressed as "Sie", never "du".
                self.assertIsNone(re.search(r"\b(du|dein|deine|dich|dir)\b", text, re.I), text)
                self.assertEqual(text.count("„"), text.count("“"), text)

    def test_spanish_formal_address(self):
        for msgid, text in self.translations("es"):
            with self.subTest(msgid=msgid):
                self.assertNotIn('"', text)
                self.assertIsNone(re.search(r"\b(tú|tu|tus|te|vuelve|inicia|introduce|escanea|ejecuta|guarda)\b", text), text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
