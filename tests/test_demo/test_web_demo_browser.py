"""End-to-end test of ``demo/web_demo.py`` in a real browser.

The demo is started on a free localhost port in a subprocess, with
random-weight checkpoints of the tiny Shapes configs and a tiny generated
Shapes dataset, and driven with headless Chromium through selenium: the
page loads, VQA / grounding / retrieval requests round-trip and their
answers, overlay images and scores appear.

Skips (with the reason) without gradio, selenium, chromium or
chromedriver, except when ``CI`` is set and ``ALBEF_DEMO_TEST=1``: then it
fails instead. ``tools/ci/install_demo_deps.sh`` installs them.

Run as a script to take the README screenshot with a running demo:
    python tests/test_demo/test_web_demo_browser.py http://127.0.0.1:7860 \
        docs/web_demo.png --image data/shapes/images/shapes_000003.jpg \
        --expression "the red circle"
"""
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DEMO = osp.join(REPO, 'demo', 'web_demo.py')
MUST_RUN = bool(os.environ.get('CI')) and \
    os.environ.get('ALBEF_DEMO_TEST') == '1'
TASKS_WITH_WEIGHTS = ('vqa', 'grounding', 'retrieval', 'snli_ve')  # not nlvr2
WAIT = 120  # seconds for a model's first request on a busy CPU


def missing_requirements():
    """Why the browser test cannot run here ([] when it can)."""
    reasons = []
    for module in ('gradio', 'selenium'):
        try:
            __import__(module)
        except ImportError:
            reasons.append(f'{module} is not installed (pip install -r '
                           'requirements/demo.txt)')
    if browser_binary() is None:
        reasons.append('no chromium browser (apt-get install chromium)')
    if shutil.which('chromedriver') is None:
        reasons.append('no chromedriver (apt-get install chromium-driver)')
    return reasons


def browser_binary():
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        if shutil.which(name):
            return shutil.which(name)
    return None


def make_driver(width=1280, height=1000):
    """Headless Chromium (no sandbox: CI runs as root)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                '--disable-gpu', f'--window-size={width},{height}'):
        options.add_argument(arg)
    options.binary_location = browser_binary()
    return webdriver.Chrome(service=Service(shutil.which('chromedriver')),
                            options=options)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for_server(url, proc, log_file, timeout=180):
    """Poll ``url`` until it answers 200; fail with the server log when the
    process dies or time runs out."""
    start = time.time()
    while time.time() - start < timeout:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1)
    with open(log_file) as f:
        log = f.read()[-3000:]
    pytest.fail(f'the demo did not come up at {url} (exit code '
                f'{proc.poll()}); its log:\n{log}')


# ------------------------------------------------------------ page helpers
def open_tab(driver, title):
    from selenium.webdriver.common.by import By
    buttons = wait_until(driver, lambda d: d.find_elements(
        By.CSS_SELECTOR, 'button[role=tab]'), 60, 'the tabs')
    for button in buttons:
        if button.text.strip() == title:
            button.click()
            return
    raise AssertionError(f'no tab {title!r} on the page')


def by_id(driver, elem_id, css='', timeout=30):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    sel = f'#{elem_id} {css}'.strip()
    return WebDriverWait(driver, timeout).until(
        lambda d: d.find_element(By.CSS_SELECTOR, sel))


def upload(driver, elem_id, path):
    by_id(driver, elem_id, 'input[type=file]').send_keys(path)
    # the preview appears once the file is uploaded to the server
    wait_until(driver, lambda d: loaded_images(d, elem_id), 60,
               f'the upload of {path} into #{elem_id}')


def type_text(driver, elem_id, text):
    box = by_id(driver, elem_id, 'textarea')
    box.clear()
    box.send_keys(text)


def loaded_images(driver, elem_id):
    """Natural widths of the decoded <img> elements inside ``elem_id``."""
    return driver.execute_script(
        'return Array.from(document.querySelectorAll('
        f'"#{elem_id} img")).filter(i => i.complete && i.naturalWidth > 0)'
        '.map(i => i.naturalWidth);')


def wait_until(driver, condition, timeout, what):
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.5).until(
            condition)
    except Exception as exc:
        raise AssertionError(f'timed out waiting for {what}') from exc


def ground_in_page(driver, image, expression):
    """Fill the grounding tab and wait for the overlay (returns the widths
    of the per-word images)."""
    open_tab(driver, 'Grounding')
    upload(driver, 'grounding-image', image)
    type_text(driver, 'grounding-text', expression)
    by_id(driver, 'grounding-submit').click()
    wait_until(driver, lambda d: loaded_images(d, 'grounding-out'), WAIT,
               'the Grad-CAM overlay')
    return wait_until(driver, lambda d: loaded_images(d, 'grounding-words'),
                      WAIT, 'the per-word maps')


# ------------------------------------------------------------ fixtures
@pytest.fixture(scope='module')
def demo_server(tmp_path_factory):
    reasons = missing_requirements()
    if reasons:
        message = 'browser test of the web demo: ' + '; '.join(reasons)
        if MUST_RUN:
            pytest.fail(message + ' (required: CI and ALBEF_DEMO_TEST=1)')
        pytest.skip(message)
    import torch

    from albef_mm.apis import init_model
    from albef_mm.datasets import generate_shapes
    root = tmp_path_factory.mktemp('web_demo')
    # the configs name data/shapes/... relative to the working directory
    generate_shapes(str(root / 'data' / 'shapes'), num_train=4, num_val=4,
                    num_test=8)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        torch.manual_seed(0)
        ckpts = {}
        for task in TASKS_WITH_WEIGHTS:
            model = init_model(osp.join(REPO, 'configs', 'albef',
                                        f'{task}_shapes_tiny.py'))
            ckpts[task] = str(root / f'{task}_random.pth')
            torch.save({'state_dict': model.state_dict()}, ckpts[task])
    finally:
        os.chdir(cwd)
    port = free_port()
    cmd = [sys.executable, DEMO, '--port', str(port), '--device', 'cpu',
           '--work-dirs', str(root / 'no_work_dirs')]
    for task, path in ckpts.items():
        cmd += [f'--checkpoint-{task.replace("_", "-")}', path]
    log_file = str(root / 'demo.log')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    with open(log_file, 'w') as log:
        proc = subprocess.Popen(cmd, cwd=root, stdout=log,
                                stderr=subprocess.STDOUT, env=env)
    url = f'http://127.0.0.1:{port}/'
    try:
        wait_for_server(url, proc, log_file)
        yield dict(url=url, root=root, ckpts=ckpts, log=log_file)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope='module')
def driver(demo_server):
    drv = make_driver()
    drv.get(demo_server['url'])
    yield drv
    drv.quit()


def _in_root(root, fn):
    cwd = os.getcwd()
    os.chdir(root)
    try:
        return fn()
    finally:
        os.chdir(cwd)


# ------------------------------------------------------------ tests
def test_page_loads_with_a_tab_per_task(driver):
    from selenium.webdriver.common.by import By
    wait_until(driver, lambda d: d.title == 'ALBEF demo', 60, 'the title')
    tabs = wait_until(driver, lambda d: [
        b.text.strip() for b in d.find_elements(
            By.CSS_SELECTOR, 'button[role=tab]')], 60, 'the tabs')
    assert tabs == ['Grounding', 'VQA', 'Retrieval', 'NLVR2', 'SNLI-VE']
    # a tab without a checkpoint explains how to get one instead of failing
    open_tab(driver, 'NLVR2')
    status = by_id(driver, 'nlvr2-status').text
    assert 'Not available' in status
    assert 'python tools/train.py configs/albef/nlvr2_shapes_tiny.py' \
        in status and '--checkpoint-nlvr2' in status
    # and a request there answers with the reason, in the page
    by_id(driver, 'nlvr2-submit').click()
    wait_until(driver, lambda d: d.execute_script(
        'return document.body.innerText').count(
            'no checkpoint found under') >= 2, 30, 'the error message')


def test_vqa_round_trip(driver, demo_server):
    from albef_mm.apis import VQAInferencer
    root = demo_server['root']
    image = str(root / 'data' / 'shapes' / 'images' / 'shapes_000001.jpg')
    question = 'What color is the circle?'
    expected = _in_root(root, lambda: VQAInferencer(
        osp.join(REPO, 'configs', 'albef', 'vqa_shapes_tiny.py'),
        demo_server['ckpts']['vqa'])(image, question)[0])
    open_tab(driver, 'VQA')
    assert 'vqa_shapes_tiny.py' in by_id(driver, 'vqa-status').text
    upload(driver, 'vqa-image', image)
    type_text(driver, 'vqa-question', question)
    by_id(driver, 'vqa-submit').click()
    label = wait_until(
        driver, lambda d: by_id(d, 'vqa-answers').text.strip() and
        expected['pred_answer'] in by_id(d, 'vqa-answers').text and
        by_id(d, 'vqa-answers').text, WAIT, 'the VQA answers')
    # the page shows the model's five best answers, the best one on top
    for ans in expected['answers']:
        assert ans in label
    lines = [t.strip() for t in label.split('\n')
             if t.strip() and t.strip() != 'Answers']
    assert lines[0] == expected['pred_answer'], label  # the heading
    pct = f'{round(100 * expected["scores"][0])}%'
    assert pct in label, (pct, label)


def test_grounding_overlay_and_word_maps(driver, demo_server):
    image = str(demo_server['root'] / 'data' / 'shapes' / 'images' /
                'shapes_000002.jpg')
    widths = ground_in_page(driver, image, 'the red circle')
    # the overlay: the 64 px image shown at 256 px
    assert loaded_images(driver, 'grounding-out') == [256]
    # one map per word: the, red, circle
    assert len(widths) >= 3 and set(widths) == {256}
    png = str(demo_server['root'] / 'screenshot.png')
    assert driver.save_screenshot(png)
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_retrieval_round_trip(driver, demo_server):
    from albef_mm.apis import ImageTextRetrievalInferencer
    root = demo_server['root']
    query = 'a red circle'

    def expected():
        inf = ImageTextRetrievalInferencer(
            osp.join(REPO, 'configs', 'albef', 'retrieval_shapes_tiny.py'),
            demo_server['ckpts']['retrieval'])
        inf.set_image_gallery(str(root / 'data' / 'shapes' / 'images'))
        return inf.text_to_image(query, topk=5)[0]
    best = _in_root(root, expected)
    open_tab(driver, 'Retrieval')
    type_text(driver, 'retrieval-query', query)
    by_id(driver, 'retrieval-submit').click()
    table = wait_until(driver, lambda d: 'ITM' in by_id(
        d, 'retrieval-table').text and by_id(d, 'retrieval-table').text,
        WAIT, 'the retrieval results')
    first = osp.basename(best[0]['image'])
    assert f'{first} {best[0]["itm"]:.4f} {best[0]["itc"]:.4f}' in \
        ' '.join(table.split()), table
    wait_until(driver, lambda d: len(loaded_images(
        d, 'retrieval-gallery')) >= 5, WAIT, 'the top-5 images')


def test_snli_ve_round_trip(driver, demo_server):
    from albef_mm.apis import VEInferencer
    root = demo_server['root']
    image = str(root / 'data' / 'shapes' / 'images' / 'shapes_000003.jpg')
    text = 'there is a red circle.'
    expected = _in_root(root, lambda: VEInferencer(
        osp.join(REPO, 'configs', 'albef', 'snli_ve_shapes_tiny.py'),
        demo_server['ckpts']['snli_ve'])(image, text)[0])
    open_tab(driver, 'SNLI-VE')
    upload(driver, 'snli_ve-image', image)
    type_text(driver, 'snli_ve-text', text)
    by_id(driver, 'snli_ve-submit').click()
    label = wait_until(driver, lambda d: 'neutral' in by_id(
        d, 'snli_ve-label').text and by_id(d, 'snli_ve-label').text, WAIT,
        'the SNLI-VE prediction')
    lines = [t.strip() for t in label.split('\n')
             if t.strip() and t.strip() != 'Prediction']
    assert lines[0] == expected['pred_class'], label
    for name, p in zip(VEInferencer.classes, expected['pred_score']):
        assert f'{name}\n{round(100 * float(p))}%' in label, (name, label)


def main(argv=None):
    """Screenshot of a running demo's grounding tab (for the README)."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument('url')
    parser.add_argument('out')
    parser.add_argument('--image', required=True)
    parser.add_argument('--expression', default='the red circle')
    args = parser.parse_args(argv)
    drv = make_driver(1280, 900)
    try:
        drv.get(args.url)
        ground_in_page(drv, osp.abspath(args.image), args.expression)
        time.sleep(1)
        drv.save_screenshot(args.out)
    finally:
        drv.quit()
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
