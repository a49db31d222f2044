"""Deterministic synthetic rows shaped like ADEME's data-fair datasets (for the replay server).

Row `i` of a dataset depends only on (seed, dataset, i, version), so any page can be produced on
demand without keeping the dataset in memory. Real-looking French values, with the known data
faults of the real feeds: postal codes without their leading zero, phones with a 33 prefix,
addresses split by ',' ';' ' - ', CEDEX, null-like strings, swapped coordinates, ids with spaces
and '/', and a few rows without id or name.
"""
from __future__ import annotations

import datetime as dt
import random

from stdnum import luhn

# (ville, code postal, lat, lon)
COMMUNES = [
    ("Paris", "75002", 48.8686, 2.3412), ("Paris", "75011", 48.8590, 2.3800), ("Marseille", "13001", 43.2990, 5.3840),
    ("Lyon", "69003", 45.7580, 4.8500), ("Toulouse", "31000", 43.6045, 1.4440), ("Nice", "06000", 43.7031, 7.2661),
    ("Nantes", "44000", 47.2184, -1.5536), ("Strasbourg", "67000", 48.5734, 7.7521),
    ("Montpellier", "34000", 43.6108, 3.8767), ("Bordeaux", "33000", 44.8378, -0.5792),
    ("Lille", "59000", 50.6292, 3.0573), ("Rennes", "35000", 48.1173, -1.6778), ("Reims", "51100", 49.2583, 4.0317),
    ("Bourg-en-Bresse", "01000", 46.2052, 5.2255), ("Laon", "02000", 49.5641, 3.6199),
    ("Moulins", "03000", 46.5646, 3.3326), ("Digne-les-Bains", "04000", 44.0925, 6.2356),
    ("Gap", "05000", 44.5594, 6.0786), ("Privas", "07000", 44.7353, 4.5992),
    ("Charleville-Mézières", "08000", 49.7621, 4.7263), ("Foix", "09000", 42.9653, 1.6070),
    ("Ajaccio", "20000", 41.9192, 8.7386), ("Porto-Vecchio", "20137", 41.5911, 9.2795),
    ("Bastia", "20200", 42.6973, 9.4509), ("Saint-Denis", "97400", -20.8821, 55.4507),
    ("Pointe-à-Pitre", "97110", 16.2411, -61.5331), ("Fort-de-France", "97200", 14.6161, -61.0588),
    ("Grenoble", "38000", 45.1885, 5.7245), ("Dijon", "21000", 47.3220, 5.0415), ("Angers", "49000", 47.4784, -0.5632),
    ("Brest", "29200", 48.3904, -4.4861), ("Tours", "37000", 47.3941, 0.6848), ("Limoges", "87000", 45.8336, 1.2611),
    ("Clermont-Ferrand", "63000", 45.7772, 3.0870), ("Amiens", "80000", 49.8941, 2.2958),
    ("Annecy", "74000", 45.8992, 6.1294), ("Pau", "64000", 43.2951, -0.3708), ("Metz", "57000", 49.1193, 6.1757),
]
VOIES = ["rue de la Paix", "avenue Jean Jaurès", "boulevard Victor Hugo", "place de la République",
         "rue du Général de Gaulle", "chemin des Vignes", "allée des Tilleuls", "rue Pasteur", "av. de la Gare",
         "bd Gambetta", "rue Émile Zola", "impasse des Lilas", "route de Lyon", "quai de la Marne"]
ZONES = ["ZI Nord", "ZA des Près", "Centre commercial Les Arcades", "ZAC du Moulin"]
NOMS = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
        "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier"]
ENSEIGNES = ["Darty", "Boulanger", "Leroy Merlin", "Intermarché", "Carrefour", "Decathlon", "Emmaüs",
             "La Ressourcerie", "Kiabi", "Cash Express", "Norauto", "Point S", "Castorama", "But"]
ACTIVITES = ["Ressourcerie", "Cordonnerie", "Retouche", "Réparation électroménager", "Friperie", "Recyclerie",
             "Garage", "Pharmacie", "Magasin", "Atelier vélo"]
LEGAL = ["SARL", "SAS", "EURL", "", "", ""]
TYPES = [("Magasin / Franchise, Enseigne commerciale / Distributeur / Point de vente", 50),
         ("Artisan, commerce indépendant", 15), ("Acteur de l'économie sociale et solidaire", 10),
         ("Collectivité, établissement public", 5), ("Point d'Apport Volontaire Public", 8),
         ("Point d'Apport Volontaire Privé", 5), ("Établissement de santé", 4),
         ("Solution de collecte itinérante (camion, bus, ...)", 3)]
NULL_LIKES = ["null", "n/a", "-", "", "NA", "none"]

EO_COLUMNS = [
    ("id_point_apport_ou_reparation", "Identifiant", "string"), ("nom_de_lorganisme", "Nom de l'organisme", "string"),
    ("enseigne_commerciale", "Enseigne commerciale", "string"), ("siret", "SIRET", "string"),
    ("siren", "SIREN", "string"), ("adresse_format_ban", "Adresse format BAN", "string"),
    ("adresse_complement", "Complément d'adresse", "string"), ("latitudewgs84", "latitudeWGS84", "number"),
    ("longitudewgs84", "longitudeWGS84", "number"), ("telephone", "Téléphone", "string"),
    ("email", "Email", "string"), ("site_web", "Site web", "string"),
    ("type_de_point_de_collecte", "Type de point de collecte", "string"), ("ecoorganisme", "Eco-organisme", "string"),
]
SINOE_COLUMNS = [
    ("C_SERVICE", "C_SERVICE", "integer"), ("N_SERVICE", "N_SERVICE", "string"), ("AD1_SITE", "AD1_SITE", "string"),
    ("CP_SITE", "CP_SITE", "string"), ("L_VILLE_SITE", "L_VILLE_SITE", "string"), ("GPS_LAT", "GPS_LAT", "number"),
    ("GPS_LONG", "GPS_LONG", "number"), ("ANNEE", "ANNEE", "integer"), ("C_DEPT", "C_DEPT", "string"),
]
# the two last years, so that the default filter (ANNEE_eq = last year) finds rows
SINOE_YEARS = (dt.date.today().year - 2, dt.date.today().year - 1)

# dataset id -> (eco-organisme label, share of the total rows, host)
DATASETS = {
    "donnees-eo-refashion": ("Refashion", 0.15),
    "donnees-eo-ecosystem": ("Ecosystem", 0.22),
    "donnees-eo-ecomaison": ("Ecomaison", 0.15),
    "donnees-eo-corepile-ecosystem": ("Corepile", 0.15),
    "donnees-eo-aliapur": ("Aliapur", 0.05),
    "donnees-eo-batribox": ("Batribox", 0.13),
    "sinoe-(r)-annuaire-des-decheteries-dma": ("SINOE", 0.15),
}


def split_rows(total: int) -> dict[str, int]:
    """How many rows each dataset gets out of `total` (SINOE: sites per year)."""
    return {ds: max(1, round(total * share)) for ds, (_, share) in DATASETS.items()}


def schema(dataset: str) -> list[dict]:
    cols = SINOE_COLUMNS if dataset.startswith("sinoe") else EO_COLUMNS
    return [{"key": k, "x-originalName": o, "type": t} for k, o, t in cols] + [
        {"key": "_geopoint", "x-calculated": True, "type": "string"},
        {"key": "_i", "x-calculated": True, "type": "integer"}]


def _siret(rng: random.Random) -> tuple[str, str]:
    siren8 = "".join(rng.choice("0123456789") for _ in range(8))
    siren = siren8 + luhn.calc_check_digit(siren8)
    nic4 = "".join(rng.choice("0123456789") for _ in range(4))
    return siren + nic4 + luhn.calc_check_digit(siren + nic4), siren


def _phone(rng: random.Random) -> str:
    digits = "0" + rng.choice("1234569") + "".join(rng.choice("0123456789") for _ in range(8))
    style = rng.random()
    if style < 0.5:
        return " ".join(digits[i:i + 2] for i in range(0, 10, 2))
    if style < 0.7:
        return digits
    if style < 0.8:
        return "33" + digits[1:]           # known fault: 33 prefix without +
    if style < 0.9:
        return "+33 " + digits[1] + " " + digits[2:]
    return rng.choice(NULL_LIKES)


def _weighted(rng: random.Random, items):
    total = sum(w for _, w in items)
    x = rng.random() * total
    for value, w in items:
        x -= w
        if x < 0:
            return value
    return items[-1][0]


def eo_row(seed: int, dataset: str, i: int, version: int = 0) -> dict | None:
    """Row `i` of an eco-organisme dataset at `version` (None: the row does not exist at that version)."""
    rng = random.Random(f"{seed}:{dataset}:{i}")
    fate = rng.random()
    if version and fate < 0.02:       # gone in later versions
        return None
    eo_label = DATASETS[dataset][0]
    ville, cp, lat, lon = rng.choice(COMMUNES)
    nom_p = rng.choice(NOMS)
    slug = nom_p.lower().replace("è", "e")
    kind = rng.random()
    if kind < 0.4:
        enseigne = rng.choice(ENSEIGNES)
        nom = f"{enseigne} {ville}".upper() if rng.random() < 0.3 else f"{enseigne} {ville}"
    else:
        enseigne = f"{rng.choice(ACTIVITES)} {nom_p}"
        nom = f"{enseigne} {rng.choice(LEGAL)}".strip()
    num = rng.randint(1, 180)
    voie = rng.choice(VOIES)
    cp_out = cp
    if cp.startswith("0") and rng.random() < 0.5:
        cp_out = cp[1:]                # known fault: leading zero lost
    layout = rng.random()
    if layout < 0.55:
        adresse = f"{num} {voie} {cp_out} {ville}"
    elif layout < 0.65:
        adresse = f"{rng.choice(ZONES)}, {num} {voie} {cp_out} {ville.upper()} CEDEX {rng.randint(1, 9):02d}"
    elif layout < 0.75:
        adresse = f"{num} {voie} ; {cp_out} ; {ville}"
    elif layout < 0.85:
        adresse = f"{num} {voie} - {cp_out} - {ville}"
    elif layout < 0.95:
        adresse = f"{num}, {voie}, {cp_out} {ville}"
    else:
        adresse = f"{num} {voie} {cp_out} {ville} CEDEX"
    siret, siren = _siret(rng)
    jitter_lat, jitter_lon = rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03)
    plat, plon = round(lat + jitter_lat, 6), round(lon + jitter_lon, 6)
    geo = rng.random()
    ident = f"{eo_label[:3].upper()}{i:07d}"
    if rng.random() < 0.02:
        ident = f"{eo_label[:3].upper()} {i:07d}/A"   # spaces and '/' in the external id
    row = {
        "id_point_apport_ou_reparation": ident,
        "nom_de_lorganisme": nom,
        "enseigne_commerciale": enseigne if rng.random() < 0.8 else rng.choice(NULL_LIKES),
        "siret": siret if rng.random() < 0.7 else (siret[:-1] + str((int(siret[-1]) + 1) % 10)
                                                    if rng.random() < 0.1 else rng.choice(NULL_LIKES)),
        "siren": siren if rng.random() < 0.5 else "",
        "adresse_format_ban": adresse,
        "adresse_complement": rng.choice(["", "", "", "Bâtiment B", "2e étage", "n/a", "Local 3"]),
        "latitudewgs84": plat if geo < 0.9 else (plon if geo < 0.93 else None),
        "longitudewgs84": plon if geo < 0.9 else (plat if geo < 0.93 else None),
        "telephone": _phone(rng),
        "email": f"contact@{slug}-{i}.fr" if rng.random() < 0.5 else rng.choice(NULL_LIKES),
        "site_web": f"www.{slug}{i}.fr" if rng.random() < 0.3 else "",
        "type_de_point_de_collecte": _weighted(rng, TYPES),
        "ecoorganisme": eo_label,
        "_geopoint": f"{plat},{plon}",
        "_i": i,
        "_id": f"{seed}-{i}",
        "_rand": rng.randint(0, 10 ** 6),
    }
    if i % 100 == 29:                  # unusable rows (2%): rejected by the cleaning
        row["id_point_apport_ou_reparation"] = rng.choice(["", "n/a"])
    elif i % 100 == 17:
        row["nom_de_lorganisme"] = "null"
        row["enseigne_commerciale"] = ""
    if version and 0.02 <= fate < 0.05:  # changed in later versions
        row["telephone"] = f"01 23 45 {version % 100:02d} {i % 100:02d}"
        row["nom_de_lorganisme"] = f"{nom} (v{version})"
    return row


def sinoe_row(seed: int, dataset: str, i: int, version: int = 0, year: int = 0) -> dict | None:
    year = year or SINOE_YEARS[-1]
    rng = random.Random(f"{seed}:{dataset}:{i}")
    fate = rng.random()
    if version and fate < 0.02:
        return None
    ville, cp, lat, lon = rng.choice(COMMUNES)
    nom = rng.choice([f"DECHETERIE DE {ville.upper()}", f"Déchèterie {ville}", f"Déchetterie intercommunale {ville}"])
    if version and 0.02 <= fate < 0.05:
        nom = f"{nom} (v{version})"
    cp_out = cp.lstrip("0") if rng.random() < 0.5 else cp
    plat, plon = round(lat + rng.uniform(-0.05, 0.05), 6), round(lon + rng.uniform(-0.05, 0.05), 6)
    dept = cp[:2] if not cp.startswith("20") else ("2A" if int(cp) < 20200 else "2B")
    return {
        "C_SERVICE": 100000 + i, "N_SERVICE": nom, "AD1_SITE": f"{rng.choice(['Lieu-dit', 'ZA', ''])} {rng.choice(VOIES)}".strip(),
        "CP_SITE": int(cp_out) if rng.random() < 0.5 else cp_out, "L_VILLE_SITE": ville.upper(),
        "GPS_LAT": plat if rng.random() < 0.95 else None, "GPS_LONG": plon, "ANNEE": year, "C_DEPT": dept,
        "_geopoint": f"{plat},{plon}", "_i": i, "_id": f"{seed}-{year}-{i}", "_rand": rng.randint(0, 10 ** 6),
    }


def row(seed: int, dataset: str, i: int, version: int = 0, year: int = 0) -> dict | None:
    if dataset.startswith("sinoe"):
        return sinoe_row(seed, dataset, i, version, year)
    return eo_row(seed, dataset, i, version)
