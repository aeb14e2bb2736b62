# Common tasks. Translations: edit tipline/translations/fr/LC_MESSAGES/messages.po, then
# `make translations` (extract + update + compile) and commit both the .po and the .mo;
# tests/intake/test_i18n.py fails when a message has no French or the .mo is stale.
PYBABEL ?= pybabel
TRANSLATIONS := tipline/translations
POT := build/messages.pot

.PHONY: translations translations-extract translations-update translations-compile lint test

translations: translations-update translations-compile

translations-extract:
	mkdir -p build
	$(PYBABEL) extract -F babel.cfg -k _l --no-location --sort-output --project Tipline -o $(POT) .

translations-update: translations-extract
	$(PYBABEL) update -i $(POT) -d $(TRANSLATIONS) --ignore-obsolete

translations-compile:
	$(PYBABEL) compile -d $(TRANSLATIONS) --statistics

lint:
	ruff check . && ruff format --check .

test:
	pytest
